package dev.lazydit.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.Test;

/** The benchmark's once-per-launch guard: a recreated activity never starts a second run. */
public class SingleRunTest {
    @Test
    public void aRecreatedActivityWaitsForItsLaunchInsteadOfStartingAgain() {
        SingleRun runs = new SingleRun();
        assertEquals(SingleRun.Start.STARTED, runs.begin("launch-1", "bench.json"));
        // Rotation: onCreate again with the saved launch id.
        assertEquals(SingleRun.Start.ALREADY_RUNNING, runs.begin("launch-1", "bench.json"));
        runs.end("launch-1");
        assertTrue(runs.isDone("launch-1"));
        assertEquals(SingleRun.Start.ALREADY_DONE, runs.begin("launch-1", "bench.json"));
        assertFalse(runs.isRunning());
        // A new `am start` is a new launch and runs.
        assertEquals(SingleRun.Start.STARTED, runs.begin("launch-2", "bench.json"));
    }

    @Test
    public void anotherLaunchIsRefusedWhileOneRuns() {
        SingleRun runs = new SingleRun();
        assertEquals(SingleRun.Start.STARTED, runs.begin("a", "a.json"));
        assertEquals(SingleRun.Start.BUSY, runs.begin("b", "b.json"));
        // Writing a refusal into a.json would replace the running launch's report.
        assertEquals(SingleRun.Start.BUSY_SAME_RESOURCE, runs.begin("c", "a.json"));
        assertThrows(IllegalStateException.class, () -> runs.end("b"));
        runs.end("a");
        assertEquals(SingleRun.Start.STARTED, runs.begin("b", "a.json"));
    }

    @Test
    public void concurrentStartsOfOneLaunchStartItOnce() throws Exception {
        SingleRun runs = new SingleRun();
        int n = 16;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<SingleRun.Start>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Callable<SingleRun.Start> begin = () -> {
                    go.await();
                    return runs.begin("launch", "bench.json");
                };
                results.add(pool.submit(begin));
            }
            go.countDown();
            int started = 0;
            for (Future<SingleRun.Start> f : results) {
                SingleRun.Start s = f.get(10, TimeUnit.SECONDS);
                started += s == SingleRun.Start.STARTED ? 1 : 0;
                assertTrue(s == SingleRun.Start.STARTED || s == SingleRun.Start.ALREADY_RUNNING);
            }
            assertEquals(1, started);
        } finally {
            pool.shutdownNow();
        }
    }
}
