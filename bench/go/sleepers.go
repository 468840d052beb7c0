// SPDX-License-Identifier: MIT

// Go peer of sleepers.c: 100,000 goroutines each sleep until one second
// after the first is started; wall time to the last, and peak RSS.
package main

import (
	"os"
	"sync"
	"time"
)

func main() {
	n := envInt("BENCH_SLEEPERS", 100000)
	var wg sync.WaitGroup

	wg.Add(n)
	t0 := time.Now()
	deadline := t0.Add(time.Second)
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Until(deadline))
			wg.Done()
		}()
	}
	spawned := time.Since(t0)
	wg.Wait()
	wall := time.Since(t0)
	if peakRSS() < 0 {
		os.Exit(1)
	}
	emit("sleepers", "go_wall", float64(wall.Nanoseconds())/1e6, "ms")
	emit("sleepers", "go_over_1s",
		float64((wall-time.Second).Nanoseconds())/1e6, "ms")
	emit("sleepers", "go_spawn_phase",
		float64(spawned.Nanoseconds())/1e6, "ms")
	emit("sleepers", "go_peak_rss", float64(peakRSS())/1048576, "MiB")
}
