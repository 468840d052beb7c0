// SPDX-License-Identifier: MIT

// Go peer of switch.c: two goroutines on one P ping-ponging over unbuffered
// channels, and the same two handing over with runtime.Gosched.
package main

import (
	"runtime"
	"time"
)

// chanPingPong returns ns per switch; a round trip is two switches.
func chanPingPong(rounds int) float64 {
	ping, pong := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})

	go func() {
		for i := 0; i < rounds; i++ {
			<-ping
			pong <- struct{}{}
		}
		close(done)
	}()
	t0 := time.Now()
	for i := 0; i < rounds; i++ {
		ping <- struct{}{}
		<-pong
	}
	el := time.Since(t0)
	<-done
	return float64(el.Nanoseconds()) / float64(2*rounds)
}

// goschedPingPong is the analogue of weft_yield: ns per Gosched.
func goschedPingPong(n int) float64 {
	done := make(chan struct{})
	yielder := func() {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		done <- struct{}{}
	}

	t0 := time.Now()
	go yielder()
	go yielder()
	<-done
	<-done
	return float64(time.Since(t0).Nanoseconds()) / float64(2*n)
}

func main() {
	n := envInt("BENCH_SWITCHES", 10000000) / 5

	runtime.GOMAXPROCS(1)
	chanPingPong(50000) // warm-up
	emit("switch", "go_chan", chanPingPong(n/2), "ns/switch")
	emit("switch", "go_gosched", goschedPingPong(n/2), "ns/switch")
}
