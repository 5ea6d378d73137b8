// Package plugin is what kubectl-buurt prints: each command's output for a
// terminal (aligned, in colour on a TTY) and as JSON or YAML, from the
// objects it read, so that it can be checked against golden files.
package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Format is how a command prints: Text (the default), JSON or YAML.
type Format string

const (
	// Text is aligned columns for a terminal.
	Text Format = ""
	// JSON is the objects as JSON.
	JSON Format = "json"
	// YAML is the objects as YAML.
	YAML Format = "yaml"
)

// ParseFormat reads -o.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Text, "wide", JSON, YAML:
		if f == "wide" {
			return Text, nil
		}
		return f, nil
	}
	return "", fmt.Errorf("unknown output format %q: use json or yaml, or leave -o out for a table", s)
}

// Style colours text for a terminal, or not.
type Style struct {
	// Colour is true on a terminal that shows colour.
	Colour bool
}

// paint colours text. The tabwriter counts the escape sequences' bytes
// as columns: every cell of a painted column, its heading too (heading),
// carries sequences of the same length, so the column stays aligned.
func (s Style) paint(code, text string) string {
	if !s.Colour || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// heading is the heading of a painted column, in the terminal's own colour
// (39), with as many bytes of escape sequences as a painted cell.
func (s Style) heading(text string) string {
	return s.paint("39", text)
}

// status colours True green, False red and anything else yellow.
func (s Style) status(value string) string {
	switch value {
	case "True":
		return s.paint("32", value)
	case "False":
		return s.paint("31", value)
	}
	return s.paint("33", value)
}

// Mine prints the requester's teams (kubectl buurt mine), at now.
func Mine(w io.Writer, list *myv1alpha1.TeamList, format Format, style Style, now time.Time) error {
	switch format {
	case JSON, YAML:
		return printObject(w, list, format)
	}
	if len(list.Items) == 0 {
		_, err := fmt.Fprintln(w, "You are in no team and coach none. A platform engineer adds you to a team's members.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintf(tw, "TEAM\tROLE\tPHASE\t%s\tNAMESPACE\tCOACH\tMEMBERS\tSLEEP\n", style.heading("READY"))
	for _, t := range list.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", t.Name, t.Status.Role, dash(t.Status.Phase), style.status(dash(string(t.Status.Ready))),
			dash(t.Status.Namespace), dash(t.Status.Coach), t.Status.MemberCount, sleep(t.Status, now))
	}
	return tw.Flush()
}

// sleep says what the team's schedule does next.
func sleep(s myv1alpha1.TeamStatus, now time.Time) string {
	return sleepText(s.Sleep, s.NextSleepTransition, now)
}

// sleepText says whether a team is awake or asleep by its own hours and
// when that changes; - for a team without hours.
func sleepText(state string, next *metav1.Time, now time.Time) string {
	if state == "" || next == nil {
		return "-"
	}
	change := "wakes"
	if state == string(teamsv1alpha1.SleepStateAwake) {
		change = "sleeps"
	}
	return fmt.Sprintf("%s, %s in %s", state, change, duration.HumanDuration(next.Sub(now)))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printObject prints obj as JSON or YAML.
func printObject(w io.Writer, obj any, format Format) error {
	data, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return err
	}
	if format == YAML {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return err
		}
	} else {
		data = append(data, '\n')
	}
	_, err = w.Write(data)
	return err
}
