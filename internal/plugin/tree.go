package plugin

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// node is a line of a tree (kubectl buurt describe, coach), its cells
// separated by tabs, and the lines under it.
type node struct {
	text     string
	children []node
}

// add appends a child and returns it, for adding under.
func (n *node) add(text string, children ...node) {
	n.children = append(n.children, node{text: text, children: children})
}

// printTree prints root and everything under it with box-drawing branches,
// as clusterctl describe does; the cells of consecutive lines are aligned.
func printTree(w io.Writer, root node) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, root.text)
	printChildren(tw, root.children, "")
	return tw.Flush()
}

func printChildren(w io.Writer, children []node, prefix string) {
	for i, c := range children {
		branch, under := "├─", "│ "
		if i == len(children)-1 {
			branch, under = "└─", "  "
		}
		fmt.Fprintln(w, prefix+branch+c.text)
		printChildren(w, c.children, prefix+under)
	}
}
