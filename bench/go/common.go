// SPDX-License-Identifier: MIT

// Helpers shared by the Go peers: JSON figures and memory use, as bench.h.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func emit(bench, metric string, value float64, unit string) {
	fmt.Printf("{\"bench\":\"%s\",\"metric\":\"%s\","+
		"\"value\":%s,\"unit\":\"%s\"}\n",
		bench, metric, strconv.FormatFloat(value, 'g', 6, 64), unit)
	fmt.Fprintf(os.Stderr, "%-10s %-24s %14.2f %s\n",
		bench, metric, value, unit)
}

// envInt returns the positive integer in the environment variable, or dflt.
func envInt(name string, dflt int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return dflt
}

// statusBytes reads a "Key:   1234 kB" line of /proc/self/status in bytes.
func statusBytes(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, key+":") {
			fields := strings.Fields(line[len(key)+1:])
			if len(fields) > 0 {
				kib, err := strconv.ParseInt(fields[0], 10, 64)
				if err == nil {
					return kib * 1024
				}
			}
		}
	}
	return -1
}

func rss() int64     { return statusBytes("VmRSS") }
func peakRSS() int64 { return statusBytes("VmHWM") }
