// Command gendoc writes the configuration reference, generated from the
// config package's struct tags, into README.md between the markers
// "<!-- config:begin -->" and "<!-- config:end -->".
//
//	go run ./config/gendoc -w README.md   # rewrite
//	go run ./config/gendoc README.md      # exit 1 if out of date
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/portcullis/portcullis/config"
)

const (
	begin = "<!-- config:begin -->\n"
	end   = "<!-- config:end -->"
)

func main() {
	write := flag.Bool("w", false, "rewrite the file instead of checking it")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gendoc [-w] README.md")
		os.Exit(2)
	}
	path := flag.Arg(0)
	old, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	updated, err := Splice(old, config.Reference())
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
		os.Exit(1)
	}
	if bytes.Equal(old, updated) {
		return
	}
	if !*write {
		fmt.Fprintf(os.Stderr, "%s: configuration reference is out of date; run make docs\n", path)
		os.Exit(1)
	}
	if err := os.WriteFile(path, updated, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Splice replaces what stands between the markers in doc with ref.
func Splice(doc []byte, ref string) ([]byte, error) {
	i := bytes.Index(doc, []byte(begin))
	j := bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("markers %q and %q not found", begin, end)
	}
	var out bytes.Buffer
	out.Write(doc[:i+len(begin)])
	out.WriteString(ref)
	if len(ref) > 0 && ref[len(ref)-1] != '\n' {
		out.WriteByte('\n')
	}
	out.Write(doc[j:])
	return out.Bytes(), nil
}
