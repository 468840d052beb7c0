// SPDX-License-Identifier: MIT

// Go peer of spawn.c: goroutines started and waited for with a WaitGroup,
// in batches, on every CPU and on one.
package main

import (
	"runtime"
	"sync"
	"time"
)

func rounds(total, batch int) {
	var wg sync.WaitGroup

	for done := 0; done < total; done += batch {
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go wg.Done()
		}
		wg.Wait()
	}
}

// spawn returns ns per goroutine, after a warm-up round.
func spawn(procs, total, batch int) float64 {
	old := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(old)

	total = (total + batch - 1) / batch * batch
	rounds(10000, batch)
	t0 := time.Now()
	rounds(total, batch)
	return float64(time.Since(t0).Nanoseconds()) / float64(total)
}

func main() {
	n := envInt("BENCH_THREADS", 1000000)
	all := runtime.NumCPU()

	emit("spawn", "go_batch64", spawn(all, n, 64), "ns/thread")
	emit("spawn", "go_batch1", spawn(all, n, 1), "ns/thread")
	emit("spawn", "go_batch64_1c", spawn(1, n, 64), "ns/thread")
	emit("spawn", "go_batch1_1c", spawn(1, n, 1), "ns/thread")
}
