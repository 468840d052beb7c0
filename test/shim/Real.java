// SPDX-License-Identifier: MIT
// A Java program for real.sh: the JVM's platform threads (libjvm.so, which
// the launcher dlopens, keeps the current thread in TLS) under the shim.
// Its output is the same natively and under the shim; the kernel threads
// it saw while 2,000 of its threads slept go to the file ARGS[0].
import java.io.*;
import java.net.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.util.stream.*;

public class Real {
	static long kernelThreads() throws IOException {
		for (String l : Files.readAllLines(Paths.get("/proc/self/status")))
			if (l.startsWith("Threads:"))
				return Long.parseLong(l.substring(8).trim());
		return -1;
	}

	// 2,000 threads asleep at once, 200 ms each.
	static void sleepers(String threadsFile) throws Exception {
		int n = 2000;
		AtomicLong sum = new AtomicLong();
		CountDownLatch asleep = new CountDownLatch(n);
		Thread[] ts = new Thread[n];
		for (int i = 0; i < n; i++) {
			final int k = i;
			ts[i] = new Thread(() -> {
				asleep.countDown();
				try {
					Thread.sleep(200);
				} catch (InterruptedException e) {
					return;
				}
				sum.addAndGet(k);
			});
			ts[i].start();
		}
		asleep.await();
		long seen = kernelThreads();
		for (Thread t : ts)
			t.join();
		Files.write(Paths.get(threadsFile), (seen + "\n").getBytes());
		System.out.println("sleepers: " + n + " threads, sum " + sum.get());
	}

	// A thread-per-connection echo server and 100 clients, 64-byte messages.
	static void echo() throws Exception {
		ServerSocket ss = new ServerSocket(0, 200, InetAddress.getByName("127.0.0.1"));
		Thread acceptor = new Thread(() -> {
			try {
				while (true) {
					Socket s = ss.accept();
					new Thread(() -> {
						try (s) {
							InputStream in = s.getInputStream();
							OutputStream out = s.getOutputStream();
							byte[] b = new byte[64];
							int r;
							while ((r = in.read(b)) > 0)
								out.write(b, 0, r);
						} catch (IOException e) {
						}
					}).start();
				}
			} catch (IOException e) {
				// closed
			}
		});
		acceptor.start();
		int clients = 100, rounds = 100;
		AtomicLong bytes = new AtomicLong(), bad = new AtomicLong();
		Thread[] cs = new Thread[clients];
		for (int c = 0; c < clients; c++) {
			final int id = c;
			cs[c] = new Thread(() -> {
				try (Socket s = new Socket("127.0.0.1", ss.getLocalPort())) {
					DataInputStream in = new DataInputStream(s.getInputStream());
					OutputStream out = s.getOutputStream();
					byte[] msg = new byte[64], got = new byte[64];
					for (int r = 0; r < rounds; r++) {
						Arrays.fill(msg, (byte) (id + r));
						out.write(msg);
						in.readFully(got);
						if (!Arrays.equals(msg, got))
							bad.incrementAndGet();
						bytes.addAndGet(64);
					}
				} catch (IOException e) {
					bad.incrementAndGet();
				}
			});
			cs[c].start();
		}
		for (Thread t : cs)
			t.join();
		ss.close();
		acceptor.join();
		System.out.println("echo: " + clients + " connections, " + bytes.get() + " bytes back, " + bad.get() + " wrong");
	}

	// Producers and consumers on a bounded queue, and monitors.
	static void queue() throws Exception {
		BlockingQueue<Long> q = new ArrayBlockingQueue<>(16);
		int producers = 8, each = 20000;
		AtomicLong got = new AtomicLong();
		ExecutorService pool = Executors.newFixedThreadPool(producers * 2);
		for (int p = 0; p < producers; p++) {
			final long base = p * (long) each;
			pool.submit(() -> {
				for (long i = 0; i < each; i++)
					q.put(base + i);
				return null;
			});
			pool.submit(() -> {
				for (int i = 0; i < each; i++)
					got.addAndGet(q.take());
				return null;
			});
		}
		pool.shutdown();
		pool.awaitTermination(60, TimeUnit.SECONDS);
		long n = (long) producers * each;
		Object lock = new Object();
		int[] turn = { 0 };
		Thread[] ring = new Thread[4];
		for (int i = 0; i < ring.length; i++) {
			final int me = i;
			ring[i] = new Thread(() -> {
				for (int k = 0; k < 1000; k++) {
					synchronized (lock) {
						while (turn[0] % ring.length != me)
							try {
								lock.wait();
							} catch (InterruptedException e) {
								return;
							}
						turn[0]++;
						lock.notifyAll();
					}
				}
			});
			ring[i].start();
		}
		for (Thread t : ring)
			t.join();
		System.out.println("queue: sum " + got.get() + " of " + n * (n - 1) / 2 + ", monitor turns " + turn[0]);
	}

	// The fork/join pool, garbage enough for the collector, a child process.
	static void rest() throws Exception {
		long s = LongStream.range(0, 2_000_000).parallel().map(x -> x * x % 7).sum();
		System.out.println("parallel stream: " + s);
		List<byte[]> keep = new ArrayList<>();
		long made = 0;
		for (int i = 0; i < 200_000; i++) {
			byte[] b = new byte[1024];
			made += b.length;
			if (i % 100 == 0)
				keep.add(b);
		}
		System.gc();
		System.out.println("garbage: " + made + " bytes made, " + keep.size() + " kept");
		Process p = new ProcessBuilder("sh", "-c", "echo child $((6 * 7))").start();
		String line = new BufferedReader(new InputStreamReader(p.getInputStream())).readLine();
		System.out.println("process: " + line + ", exit " + p.waitFor());
	}

	public static void main(String[] args) throws Exception {
		sleepers(args[0]);
		echo();
		queue();
		rest();
	}
}
