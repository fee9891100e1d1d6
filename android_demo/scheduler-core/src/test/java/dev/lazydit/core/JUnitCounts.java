package dev.lazydit.core;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Request;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs JUnit test classes and prints how many tests actually ran, as one machine-readable line:
 *
 * <pre>JUNIT-COUNTS executed=N passed=N failed=N ignored=N assumption_failures=N</pre>
 *
 * <p>JUnitCore alone prints "OK (N tests)" even when tests were skipped through {@code Assume}, so a
 * suite whose data never arrived looks green. tests/test_android_core.py reads this line and fails
 * unless every expected test executed. Each skipped or failed test is also named on its own line.
 * Exits 1 if any test failed, 2 on bad arguments.
 */
public final class JUnitCounts {
    private JUnitCounts() {
    }

    /** Counts tests by what happened to them; a test that fails an assumption did not execute. */
    static final class Counter extends RunListener {
        final Set<Description> started = new LinkedHashSet<>();
        final Set<Description> failed = new LinkedHashSet<>();
        final Set<Description> assumed = new LinkedHashSet<>();
        final Set<Description> ignored = new LinkedHashSet<>();
        final List<String> lines = new ArrayList<>();

        @Override
        public synchronized void testStarted(Description d) {
            started.add(d);
        }

        @Override
        public synchronized void testFailure(Failure f) {
            failed.add(f.getDescription());
            lines.add("FAILED " + f.getDescription().getDisplayName() + ": " + f.getMessage() + "\n" + f.getTrace());
        }

        @Override
        public synchronized void testAssumptionFailure(Failure f) {
            // Also reported for a whole class when @BeforeClass assumes; its tests then never start.
            assumed.add(f.getDescription());
            lines.add("ASSUMPTION-FAILED " + f.getDescription().getDisplayName() + ": " + f.getMessage());
        }

        @Override
        public synchronized void testIgnored(Description d) {
            ignored.add(d);
            lines.add("IGNORED " + d.getDisplayName());
        }

        int executed() {
            int n = 0;
            for (Description d : started) {
                if (!assumed.contains(d)) {
                    n++;
                }
            }
            return n;
        }

        int passed() {
            int n = 0;
            for (Description d : started) {
                if (!assumed.contains(d) && !failed.contains(d)) {
                    n++;
                }
            }
            return n;
        }

        String summary() {
            return "JUNIT-COUNTS executed=" + executed() + " passed=" + passed() + " failed=" + failed.size()
                    + " ignored=" + ignored.size() + " assumption_failures=" + assumed.size();
        }
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: JUnitCounts TEST_CLASS...");
            System.exit(2);
        }
        List<Class<?>> classes = new ArrayList<>();
        for (String name : args) {
            try {
                classes.add(Class.forName(name));
            } catch (ClassNotFoundException e) {
                System.err.println("no test class " + name);
                System.exit(2);
            }
        }
        JUnitCore core = new JUnitCore();
        Counter counter = new Counter();
        core.addListener(counter);
        core.run(Request.classes(classes.toArray(new Class<?>[0])));
        for (String line : counter.lines) {
            System.out.println(line);
        }
        System.out.println(counter.summary());
        System.exit(counter.failed.isEmpty() ? 0 : 1);
    }
}
