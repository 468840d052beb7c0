// SPDX-License-Identifier: MIT

// Go peer of parked.c: a million goroutines blocked on one channel; the
// growth of the resident set while all are blocked, per goroutine.
package main

import (
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := envInt("BENCH_PARKED", 1000000)
	ch := make(chan struct{})
	var waiting int64
	var wg sync.WaitGroup

	rss0 := rss()
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&waiting, 1)
			<-ch
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&waiting) < int64(n) {
		time.Sleep(time.Millisecond)
	}
	// The last ones counted may still be on their way to the channel.
	time.Sleep(20 * time.Millisecond)
	spawned := time.Since(t0)
	rss1 := rss()
	t0 = time.Now()
	for i := 0; i < n; i++ {
		ch <- struct{}{}
	}
	wg.Wait()
	released := time.Since(t0)
	emit("parked", "go_rss_per_thread",
		float64(rss1-rss0)/float64(n)/1024, "KiB")
	emit("parked", "go_spawn_park",
		float64(spawned.Nanoseconds())/float64(n), "ns/thread")
	emit("parked", "go_release_join",
		float64(released.Nanoseconds())/float64(n), "ns/thread")
}
