// SPDX-License-Identifier: MIT

// Go peer of group.c: an errgroup-style group and context cancellation,
// for cancel latency, the cost a group adds to spawn+join, and a fan-out
// limited to 64 at a time.
//
// golang.org/x/sync/errgroup is not in Go 1.19's standard library and
// nothing is downloaded here, so Group below is the minimal equivalent,
// written after x/sync's: a WaitGroup, context.WithCancel, the first
// error, and SetLimit as a semaphore channel.
package main

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

type token struct{}

// Group is x/sync/errgroup.Group, reduced to what the benchmarks use.
type Group struct {
	cancel  func()
	wg      sync.WaitGroup
	sem     chan token
	errOnce sync.Once
	err     error
}

// WithContext returns a group and a context cancelled by its first error
// or by Wait returning.
func WithContext(ctx context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &Group{cancel: cancel}, ctx
}

// SetLimit bounds the goroutines active at once; Go waits at the bound.
func (g *Group) SetLimit(n int) {
	if n < 0 {
		g.sem = nil
		return
	}
	g.sem = make(chan token, n)
}

func (g *Group) done() {
	if g.sem != nil {
		<-g.sem
	}
	g.wg.Done()
}

// Go runs f in a new goroutine of the group.
func (g *Group) Go(f func() error) {
	if g.sem != nil {
		g.sem <- token{}
	}
	g.wg.Add(1)
	go func() {
		defer g.done()
		if err := f(); err != nil {
			g.errOnce.Do(func() {
				g.err = err
				if g.cancel != nil {
					g.cancel()
				}
			})
		}
	}()
}

// Wait waits for every goroutine of the group; the first error, if any.
func (g *Group) Wait() error {
	g.wg.Wait()
	if g.cancel != nil {
		g.cancel()
	}
	return g.err
}

// waitBlocked waits until n goroutines have counted themselves, then a
// little more for the last of them to reach their wait.
func waitBlocked(count *int64, n int) {
	for atomic.LoadInt64(count) < int64(n) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
}

// cancelCtx: n members of a group, each blocked in a select on the
// group's context and on a channel fed by one goroutine reading an empty
// pipe (the errgroup idiom for a cancellable read, since a read of an
// *os.File cannot take a context).  ns from the parent context's cancel
// to Wait returning.
func cancelCtx(n int) float64 {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	data := make(chan byte)
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
			data <- buf[0]
		}
	}()

	var blocked int64
	parent, cancel := context.WithCancel(context.Background())
	g, ctx := WithContext(parent)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			atomic.AddInt64(&blocked, 1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-data:
				return nil
			}
		})
	}
	waitBlocked(&blocked, n)
	t0 := time.Now()
	cancel()
	if g.Wait() != context.Canceled {
		panic("cancel: not cancelled")
	}
	el := time.Since(t0)
	w.Close() // the reader sees the end of the pipe
	r.Close()
	return float64(el.Nanoseconds())
}

// cancelDeadline: n members each blocked in Read on one *os.File pipe (Go's
// netpoller; one reader at a time holds the fd's read lock, the others
// wait for it), cancelled by a goroutine that sets a past read deadline
// when the context is done.  ns from cancel to Wait returning.
func cancelDeadline(n int) float64 {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	var blocked int64
	parent, cancel := context.WithCancel(context.Background())
	g, ctx := WithContext(parent)
	go func() {
		<-ctx.Done()
		r.SetReadDeadline(time.Unix(1, 0))
	}()
	for i := 0; i < n; i++ {
		g.Go(func() error {
			buf := make([]byte, 1)
			atomic.AddInt64(&blocked, 1)
			_, err := r.Read(buf)
			return err
		})
	}
	waitBlocked(&blocked, n)
	t0 := time.Now()
	cancel()
	if g.Wait() == nil {
		panic("cancel: a read succeeded")
	}
	el := time.Since(t0)
	w.Close()
	r.Close()
	return float64(el.Nanoseconds())
}

func nop() error { return nil }

func bareRounds(total, batch int) {
	var wg sync.WaitGroup

	for done := 0; done < total; done += batch {
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go wg.Done()
		}
		wg.Wait()
	}
}

// groupRounds opens a group (with its context, as a weft group has its
// cancel scope) a batch, and waits for it at the batch's end.
func groupRounds(total, batch int) {
	for done := 0; done < total; done += batch {
		g, _ := WithContext(context.Background())
		for i := 0; i < batch; i++ {
			g.Go(nop)
		}
		g.Wait()
	}
}

// overhead returns ns per goroutine, bare and in a group; the two take
// turns in ten slices, so that noise falls on both.
func overhead(total, batch int) (float64, float64) {
	const slices = 10
	var bare, group time.Duration

	slice := (total/slices + batch - 1) / batch * batch
	bareRounds(10000, batch)
	groupRounds(10000, batch)
	for i := 0; i < slices; i++ {
		t0 := time.Now()
		bareRounds(slice, batch)
		bare += time.Since(t0)
		t0 = time.Now()
		groupRounds(slice, batch)
		group += time.Since(t0)
	}
	n := float64(slice * slices)
	return float64(bare.Nanoseconds()) / n, float64(group.Nanoseconds()) / n
}

// fanout returns ms for n tasks through a group with SetLimit(limit).
func fanout(n, limit int) float64 {
	var done int64

	t0 := time.Now()
	g, _ := WithContext(context.Background())
	g.SetLimit(limit)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			atomic.AddInt64(&done, 1)
			return nil
		})
	}
	if g.Wait() != nil || atomic.LoadInt64(&done) != int64(n) {
		panic("fanout: a task is missing")
	}
	return float64(time.Since(t0).Nanoseconds()) / 1e6
}

func main() {
	readers := envInt("BENCH_READERS", 10000)
	threads := envInt("BENCH_THREADS", 1000000)
	tasks := envInt("BENCH_TASKS", 100000)

	c := cancelCtx(readers)
	d := cancelDeadline(readers)
	bare, group := overhead(threads, 64)
	f := fanout(tasks, 64)
	emit("group", "go_cancel_total", c/1e6, "ms")
	emit("group", "go_cancel", c/float64(readers), "ns/thread")
	emit("group", "go_cancel_pipe", d/float64(readers), "ns/thread")
	emit("group", "go_bare_batch64", bare, "ns/thread")
	emit("group", "go_group_batch64", group, "ns/thread")
	emit("group", "go_group_ratio", group/bare, "x")
	emit("group", "go_fanout64", f, "ms")
}
