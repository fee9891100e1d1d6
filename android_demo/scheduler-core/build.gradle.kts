// The scheduler without Android: bundle validation, step plan, slot buffers, golden trace, latency
// report. Plain Java 17 so that it also compiles and tests on a desktop JVM (see README).
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    // Part of the API: LatencyReport.toJson() returns Gson's JsonObject.
    api(libs.gson)
    testImplementation(libs.junit)
}

tasks.test {
    // The data-driven tests need an exported bundle and a recorded Python run; tests/test_android_core.py
    // makes both. Pass them with -Plazydit.bundle=DIR -Plazydit.recording=DIR, otherwise those tests skip;
    // -Plazydit.contract=INDEX (the contract corpus's index.json) runs the shared bundle contract;
    // -Plazydit.latent.bundle=DIR -Plazydit.latent.recording=DIR the latent bundle's decoder replay.
    for (key in listOf("lazydit.bundle", "lazydit.recording", "lazydit.out", "lazydit.contract",
            "lazydit.latent.bundle", "lazydit.latent.recording")) {
        providers.gradleProperty(key).orNull?.let { systemProperty(key, it) }
    }
}
