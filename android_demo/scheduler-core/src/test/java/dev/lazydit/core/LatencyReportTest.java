package dev.lazydit.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The benchmark report: numpy-compatible statistics and a complete JSON from real (replayed) runs. */
public class LatencyReportTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void percentilesFollowNumpy() {
        double[] ten = {10, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        assertEquals(5.5, Stats.median(ten), 1e-12);
        assertEquals(9.1, Stats.percentile(ten, 90), 1e-12);
        assertEquals(2.8, Stats.percentile(new double[] {3, 1, 2}, 90), 1e-12);
        assertEquals(4.0, Stats.percentile(new double[] {4}, 90), 0);
    }

    @Test
    public void writesAReportOfReplayedRuns() throws IOException {
        Bundle bundle = Bundle.open(TestData.bundleDir());
        GoldenTrace golden = GoldenTrace.load(bundle);
        ReplayRunner runner = new ReplayRunner(TestData.recordingDir());
        Scheduler scheduler = new Scheduler(bundle.manifest(), runner);
        Map<String, Double> methods = new LinkedHashMap<>();
        methods.put("v0", 1.5);
        methods.put("v1", 0.5);
        LatencyReport report = new LatencyReport("host-replay", "executorch", "1.5.1").bundle(bundle)
                .device("os", System.getProperty("os.name"))
                .device("arch", System.getProperty("os.arch"))
                .option("warmup", 0).option("repeat", 4).option("classes", golden.classes())
                .loadMs(2.0, methods).peakRssKb(1234).golden(Collections.<String>emptyList());
        for (int r = 0; r < 4; r++) {
            runner.rewind();
            report.addRun(scheduler.run(golden.classes(), golden.readNoise(), null));
        }
        File out = TestData.outDir() != null ? TestData.outDir() : tmp.getRoot();
        File file = new File(out, "latency.json");
        report.write(file);

        JsonObject o = JsonParser.parseString(new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8))
                .getAsJsonObject();
        assertEquals(LatencyReport.FORMAT, o.get("format").getAsString());
        assertTrue(o.get("error").isJsonNull());
        assertEquals(4, o.getAsJsonArray("runs").size());
        JsonObject step = o.getAsJsonArray("runs").get(0).getAsJsonObject().getAsJsonArray("steps").get(1)
                .getAsJsonObject();
        assertEquals(1, step.get("index").getAsInt());
        assertEquals("v1", step.get("variant").getAsString());
        assertEquals("interval:2", o.getAsJsonObject("bundle").get("schedule").getAsString());
        assertEquals(5, o.getAsJsonObject("bundle").get("lazy_steps").getAsInt());
        assertEquals(4.0, o.getAsJsonObject("load_ms").get("total").getAsDouble(), 0);
        assertEquals(4, o.getAsJsonObject("total_ms").get("count").getAsInt());
        assertEquals(20, o.getAsJsonObject("per_variant_step_ms").getAsJsonObject("v1").get("count").getAsInt());
        assertEquals(10, o.getAsJsonArray("per_step_median_ms").size());
        assertEquals(1234, o.getAsJsonObject("memory").get("peak_rss_kb").getAsLong());
        assertTrue(o.getAsJsonObject("golden").get("ok").getAsBoolean());
        assertTrue(!new File(out, "latency.json.tmp").exists());
    }

    @Test
    public void aFailedBenchmarkStillWritesAReport() throws IOException {
        File file = tmp.newFile("failed.json");
        new LatencyReport("lazydit-android-app", "executorch", null).error("bundle folder not found: /x").write(file);
        JsonObject o = JsonParser.parseString(new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8))
                .getAsJsonObject();
        assertEquals("bundle folder not found: /x", o.get("error").getAsString());
        assertTrue(o.get("total_ms").isJsonNull());
        assertTrue(o.get("load_ms").isJsonNull());
        assertTrue(!o.getAsJsonObject("golden").get("checked").getAsBoolean());
    }
}
