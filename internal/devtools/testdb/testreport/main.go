// Command testreport reads `go test -json` on stdin, prints what go test
// would (failures in full), then says plainly which tests were skipped and
// why, lists the files tests saved for people to look at (the lines they
// log as "screenshot: <path>"), and ends with a "N passed, N failed, N
// skipped" line. It exits 1 when anything failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	var (
		passed, failed, skipped int
		output                  = map[string][]string{} // package/test → output lines
		skips                   []string
		artifacts               []string
		pkgFailed               bool
	)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Println(sc.Text()) // not JSON: a build error, say
			continue
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output":
			output[key] = append(output[key], ev.Output)
			if _, path, ok := strings.Cut(ev.Output, "screenshot: "); ok && ev.Test != "" {
				artifacts = append(artifacts, fmt.Sprintf("%s %s: %s", ev.Package, ev.Test, strings.TrimSpace(path)))
			}
		case "pass":
			if ev.Test == "" {
				fmt.Printf("ok  \t%s\t%.2fs\n", ev.Package, ev.Elapsed)
			} else {
				passed++
			}
			delete(output, key)
		case "skip":
			if ev.Test != "" {
				skipped++
				skips = append(skips, fmt.Sprintf("%s %s: %s", ev.Package, ev.Test, reason(output[key])))
			} else {
				fmt.Printf("?   \t%s\t[no test files]\n", ev.Package)
			}
			delete(output, key)
		case "fail":
			if ev.Test != "" {
				failed++
			} else {
				pkgFailed = true
				fmt.Printf("FAIL\t%s\t%.2fs\n", ev.Package, ev.Elapsed)
			}
			fmt.Print(strings.Join(output[key], ""))
			delete(output, key)
		}
	}
	if len(skips) > 0 {
		sort.Strings(skips)
		fmt.Printf("\nSKIPPED (%d):\n", len(skips))
		for _, s := range skips {
			fmt.Println("  " + s)
		}
	}
	if len(artifacts) > 0 {
		fmt.Printf("\nSCREENSHOTS (%d):\n", len(artifacts))
		for _, a := range artifacts {
			fmt.Println("  " + a)
		}
	}
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || pkgFailed {
		os.Exit(1)
	}
}

// reason is the skip message a test printed, without go test's framing.
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "===") {
			continue
		}
		if _, after, ok := strings.Cut(l, ".go:"); ok {
			if _, msg, ok := strings.Cut(after, ": "); ok {
				return msg
			}
		}
		return l
	}
	return "skipped"
}
