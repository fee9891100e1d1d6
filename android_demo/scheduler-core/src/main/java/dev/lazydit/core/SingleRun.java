package dev.lazydit.core;

import java.util.HashSet;
import java.util.Set;

/**
 * Lets a headless benchmark run once per launch and never two at a time in one process.
 *
 * <p>Android recreates an activity on a configuration change (a rotation, a fold, a window resize),
 * calling onCreate again; a benchmark that starts its run in onCreate would then time two runs in
 * parallel. A launch is named by an id kept in the saved instance state, so the recreated activity
 * sees its own launch and waits for it instead of starting again. Each run names the resource it
 * writes (the benchmark: its report file), so a refused launch knows, in the same atomic decision,
 * whether it may write its refusal there. Thread-safe: one instance per process.
 */
public final class SingleRun {
    /** What {@link #begin} decided. */
    public enum Start {
        /** This launch's run should start now. */
        STARTED,
        /** This launch already runs (the activity was recreated): wait for it. */
        ALREADY_RUNNING,
        /** This launch already ran to the end: nothing to do. */
        ALREADY_DONE,
        /** Another launch is running (timing two at once would skew both); it writes another resource. */
        BUSY,
        /** Another launch is running and writes the same resource: leave that resource alone. */
        BUSY_SAME_RESOURCE
    }

    private final Set<String> done = new HashSet<>();
    private String running;
    private String runningResource;

    /** Decides whether {@code launchId}'s run, which writes {@code resource}, starts now. */
    public synchronized Start begin(String launchId, String resource) {
        if (launchId.equals(running)) {
            return Start.ALREADY_RUNNING;
        }
        if (done.contains(launchId)) {
            return Start.ALREADY_DONE;
        }
        if (running != null) {
            return resource.equals(runningResource) ? Start.BUSY_SAME_RESOURCE : Start.BUSY;
        }
        running = launchId;
        runningResource = resource;
        return Start.STARTED;
    }

    /** Marks {@code launchId}'s run finished; only the running launch may end. */
    public synchronized void end(String launchId) {
        if (!launchId.equals(running)) {
            throw new IllegalStateException("launch " + launchId + " is not running");
        }
        running = null;
        runningResource = null;
        done.add(launchId);
    }

    public synchronized boolean isDone(String launchId) {
        return done.contains(launchId);
    }

    public synchronized boolean isRunning() {
        return running != null;
    }
}
