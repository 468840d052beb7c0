// SPDX-License-Identifier: MIT
// Rust's std on virtual threads: std::thread (spawn, scope, names,
// thread-locals and their destructors), Mutex, RwLock, Condvar (with a
// timeout), mpsc channels (unbounded and bounded), Barrier, OnceLock,
// atomics, and thread::park/unpark (with a timeout).  std waits on
// futexes through libc's syscall() and keeps the current thread in the
// program's TLS; every line printed is in an order the program fixes.
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Condvar, Mutex, OnceLock, RwLock};
use std::thread;
use std::time::{Duration, Instant};

struct Noisy(&'static str);

impl Drop for Noisy {
    fn drop(&mut self) {
        println!("  thread-local dropped: {}", self.0);
    }
}

thread_local! {
    static COUNT: Cell<u64> = Cell::new(0);
    static NOISY: Cell<Option<Noisy>> = Cell::new(None);
}

fn mutex_counter(threads: usize, rounds: u64) {
    let m = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..rounds {
                    *m.lock().unwrap() += 1;
                    COUNT.with(|c| c.set(c.get() + 1));
                }
                COUNT.with(|c| c.get())
            })
        })
        .collect();
    let own: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    println!(
        "mutex: {} threads, total {}, each counted {:?} in its thread-local",
        threads,
        *m.lock().unwrap(),
        own.iter().all(|&c| c == rounds)
    );
}

fn condvar_turns(threads: usize, laps: usize) {
    let pair = Arc::new((Mutex::new(0usize), Condvar::new()));
    let hs: Vec<_> = (0..threads)
        .map(|i| {
            let pair = pair.clone();
            thread::spawn(move || {
                let (l, cv) = &*pair;
                for lap in 0..laps {
                    let mut turn = l.lock().unwrap();
                    while *turn != lap * threads + i {
                        turn = cv.wait(turn).unwrap();
                    }
                    *turn += 1;
                    cv.notify_all();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    println!("condvar: {} threads took {} turns", threads, *pair.0.lock().unwrap());
    let (l, cv) = &*pair;
    let t0 = Instant::now();
    let (_g, r) = cv.wait_timeout(l.lock().unwrap(), Duration::from_millis(30)).unwrap();
    println!(
        "condvar wait_timeout 30 ms: timed out {}, waited enough {}",
        r.timed_out(),
        t0.elapsed() >= Duration::from_millis(30)
    );
}

fn channels(producers: usize, items: usize) {
    let (tx, rx) = mpsc::channel();
    for p in 0..producers {
        let tx = tx.clone();
        thread::spawn(move || {
            for i in 0..items {
                tx.send(p * items + i).unwrap();
            }
        });
    }
    drop(tx);
    let sum: usize = rx.iter().sum();
    let n = producers * items;
    println!("mpsc::channel: {} messages, sum {} (expected {})", n, sum, n * (n - 1) / 2);

    let (tx, rx) = mpsc::sync_channel(2);
    let h = thread::spawn(move || {
        for i in 0..1000u32 {
            tx.send(i).unwrap();
        }
    });
    let mut last = None;
    for v in rx.iter() {
        assert!(last.map_or(v == 0, |l| v == l + 1));
        last = Some(v);
    }
    h.join().unwrap();
    println!("mpsc::sync_channel(2): in order up to {:?}", last);
}

fn parking() {
    let flag = Arc::new(AtomicUsize::new(0));
    let f = flag.clone();
    let t = thread::spawn(move || {
        while f.load(Ordering::Acquire) == 0 {
            thread::park();
        }
        println!("  parked thread: unparked");
    });
    thread::sleep(Duration::from_millis(30));
    flag.store(1, Ordering::Release);
    t.thread().unpark();
    t.join().unwrap();
    let t0 = Instant::now();
    thread::park_timeout(Duration::from_millis(30));
    println!("park_timeout 30 ms: waited enough {}", t0.elapsed() >= Duration::from_millis(30));
}

fn misc(threads: usize) {
    let b = Arc::new(Barrier::new(threads));
    let leaders = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let (b, leaders) = (b.clone(), leaders.clone());
            thread::spawn(move || {
                for _ in 0..3 {
                    if b.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    println!("barrier: {} threads, {} leaders", threads, leaders.load(Ordering::Relaxed));

    let rw = RwLock::new(vec![1, 2, 3]);
    let once: OnceLock<usize> = OnceLock::new();
    thread::scope(|s| {
        for i in 0..4 {
            let (rw, once) = (&rw, &once);
            s.spawn(move || {
                once.get_or_init(|| 42);
                if i == 0 {
                    rw.write().unwrap().push(4);
                } else {
                    let _ = rw.read().unwrap().len();
                }
            });
        }
    });
    println!("scope, RwLock, OnceLock: {:?} {:?}", rw.read().unwrap(), once.get());

    let h = thread::Builder::new()
        .name("named".into())
        .stack_size(256 << 10)
        .spawn(|| {
            NOISY.with(|n| n.set(Some(Noisy("of the named thread"))));
            thread::current().name().map(str::to_owned)
        })
        .unwrap();
    println!("thread name: {:?}", h.join().unwrap());
    println!(
        "main thread: {:?}, thread-local untouched: {}",
        thread::current().name(),
        COUNT.with(|c| c.get())
    );
}

fn main() {
    mutex_counter(8, 2000);
    condvar_turns(6, 100);
    channels(4, 2500);
    parking();
    misc(16);
    let r = thread::spawn(|| panic!("on purpose")).join();
    println!("a panicking thread: join is_err {}", r.is_err());
}
