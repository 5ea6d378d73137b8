// Package message words lists of names the same way wherever buurt tells a
// user about many objects: admission warnings and errors, conditions and
// Events.
package message

import (
	"fmt"
	"strings"
)

// most is how many names a list spells out. A blueprint may have hundreds
// of teams; the message must stay readable and fit a condition or Event.
const most = 10

// List joins names, at most ten of them, saying how many more there are.
func List(names []string) string {
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}

// Count is n of a thing: "1 member", "2 members".
func Count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
