//! A failing run leaves a timeline beside its log: an HTML page with no
//! external URL whose embedded JSON holds the nodes, the messages with their
//! sends and arrivals, the faults and the failure; the same JSON in a file;
//! `SIM_TIMELINE` turns it off or on for passing seeds; recording it changes
//! nothing in the run. In a real browser (`#[ignore]`d: CI runs them with
//! headless Chromium installed), the page draws the lanes, the arrows and
//! the failure of zoo failures without a script error.

#[path = "../examples/zoo/entry.rs"]
pub mod entry;
#[path = "../examples/zoo/exit_cascade.rs"]
pub mod exit_cascade;
#[path = "../examples/zoo/heartbeat.rs"]
pub mod heartbeat;
#[path = "../examples/zoo/wire.rs"]
pub mod wire;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use serde_json::Value;
use sim::harness::{self, Settings, Test, Timeline};
use sim::net::{self, LinkConfig, TcpListener, TcpStream, UdpSocket};
use sim::node::Builder;
use sim::time::{sleep, timeout};

fn test(name: &'static str) -> Test {
    harness::test_named!(name)
}

/// An echo service over UDP and TCP, a partition that eats a datagram, a
/// server killed and restarted, and a client that gives up: fails on
/// every seed.
async fn echo_then_partition() {
    let server = Builder::new("server")
        .init(|| async {
            sim::spawn(async {
                let listener = TcpListener::bind("0.0.0.0:7").await.unwrap();
                loop {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    let mut buf = [0; 5];
                    stream.read_exact(&mut buf).await.unwrap();
                    tracing::info!("tcp echo of {} bytes", buf.len());
                    stream.write_all(&buf).await.unwrap();
                }
            });
            let socket = UdpSocket::bind("0.0.0.0:9").await.unwrap();
            let mut buf = [0; 64];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                tracing::info!("udp echo of {n} bytes");
                socket.send_to(&buf[..n], from).await.unwrap();
            }
        })
        .build();
    let link = LinkConfig::new().fixed_latency(Duration::from_millis(5));
    net::set_link("client", "server", link);
    net::set_link("server", "client", link);
    sleep(Duration::from_millis(1)).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let mut buf = [0; 64];
    for _ in 0..2 {
        socket.send_to(b"ping", "server:9").await.unwrap();
        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
    }
    let mut stream = TcpStream::connect("server:7").await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut echo = [0; 5];
    stream.read_exact(&mut echo).await.unwrap();
    net::partition("client", "server");
    socket.send_to(b"lost", "server:9").await.unwrap();
    let answer = timeout(Duration::from_millis(50), socket.recv_from(&mut buf)).await;
    tracing::warn!(answered = answer.is_ok(), "no answer across the partition");
    net::heal("client", "server");
    // On its way when the server dies: it never arrives.
    socket.send_to(b"late", "server:9").await.unwrap();
    server.kill();
    sleep(Duration::from_millis(10)).await;
    server.restart();
    panic!("the server never answered after the partition");
}

/// The failure of seed `seed`: each test its own seed, so tests running in
/// parallel never write the same files.
fn failing(seed: u64, settings: Settings) -> harness::TestFailure {
    harness::try_run(
        test("echo_then_partition")
            .seed(seed)
            .settings(settings.shrink(0)),
        echo_then_partition,
    )
    .unwrap_err()
}

/// The JSON embedded in the page.
fn embedded(html: &str) -> Value {
    let open = r#"<script type="application/json" id="sim-timeline-data">"#;
    let start = html.find(open).expect("the data's script tag") + open.len();
    let end = start + html[start..].find("</script>").expect("its end");
    serde_json::from_str(&html[start..end]).expect("the embedded JSON parses")
}

fn node_id(doc: &Value, name: &str) -> u64 {
    doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node {name}"))["id"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_failing_run_leaves_a_self_contained_timeline() {
    let failure = failing(7, Settings::quiet());
    let html_path: PathBuf = failure.timeline().expect("a timeline was written").clone();
    assert_eq!(html_path.extension().unwrap(), "html");
    assert_eq!(
        html_path.with_extension("log"),
        *failure.log_file().unwrap(),
        "the timeline lies beside the log file"
    );
    let report = failure.to_string();
    assert!(
        report.contains(&format!("timeline: {}", html_path.display())),
        "{report}"
    );

    let html = std::fs::read_to_string(&html_path).unwrap();
    for external in ["http://", "https://", "src=\"//", "href=\"//", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    let doc = embedded(&html);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(html_path.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(doc, file, "the page and the JSON file hold the same data");

    assert_eq!(doc["format"], "sim-timeline");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["seed"], "0x7");
    assert_eq!(doc["outcome"], "fail");
    let (client, server) = (node_id(&doc, "client"), node_id(&doc, "server"));

    // Messages: each with its send, and its arrival or why it has none.
    let messages = doc["messages"].as_array().unwrap();
    let pings: Vec<&Value> = messages
        .iter()
        .filter(|m| m["proto"] == "udp" && m["from"] == client && m["to"] == server)
        .collect();
    assert_eq!(pings.len(), 4, "two pings, one datagram lost, one dropped");
    for ping in &pings[..2] {
        assert_eq!(ping["len"], 4);
        assert_eq!(ping["hash"].as_str().unwrap().len(), 8);
        assert_eq!(ping["head"], "70696e67", "the first bytes: `ping`");
        let sent = ping["send_ns"].as_u64().unwrap();
        let arrivals = ping["arrivals"].as_array().unwrap();
        assert_eq!(arrivals.len(), 1, "{ping}");
        assert_eq!(arrivals[0].as_u64().unwrap(), sent + 5_000_000, "{ping}");
        assert!(ping["lost"].is_null());
    }
    assert_eq!(pings[2]["lost"], "partition");
    assert!(pings[2]["arrivals"].as_array().unwrap().is_empty());
    assert_eq!(pings[3]["lost"], "receiver closed", "{}", pings[3]);
    assert!(pings[3]["arrivals"].as_array().unwrap().is_empty());
    let echoes = messages
        .iter()
        .filter(|m| m["proto"] == "udp" && m["from"] == server && m["to"] == client)
        .count();
    assert_eq!(echoes, 2);
    let ids: Vec<u64> = messages.iter().map(|m| m["id"].as_u64().unwrap()).collect();
    assert!(
        ids.iter().all(|&id| id > 0),
        "every send has its message id"
    );
    for kind in ["syn", "data"] {
        assert!(
            messages
                .iter()
                .any(|m| m["proto"] == "tcp" && m["kind"] == kind && m["arrivals"][0].is_u64()),
            "a tcp {kind} that arrives"
        );
    }

    // Faults as bands and markers.
    let bands = doc["bands"].as_array().unwrap();
    assert!(
        bands
            .iter()
            .any(|b| b["kind"] == "partition" && b["node"] == client && b["to_ns"].is_u64())
    );
    assert!(
        bands
            .iter()
            .any(|b| b["kind"] == "down" && b["node"] == server && b["to_ns"].is_u64())
    );
    let markers = doc["markers"].as_array().unwrap();
    for kind in ["kill", "restart", "net"] {
        assert!(markers.iter().any(|m| m["kind"] == kind), "a {kind} marker");
    }

    // Log lines on their nodes, tasks with their spawn sites.
    let logs = doc["logs"].as_array().unwrap();
    assert!(logs.iter().any(|l| l["node"] == server
        && l["level"] == "INFO"
        && l["text"].as_str().unwrap().contains("udp echo of 4 bytes")));
    assert!(
        logs.iter()
            .any(|l| l["node"] == client && l["level"] == "WARN")
    );
    assert!(doc["tasks"].as_array().unwrap().iter().any(|t| {
        t["node"] == server
            && t["spawned_at"]
                .as_str()
                .unwrap()
                .contains("harness_timeline.rs")
    }));

    // The failure, where and when it happened.
    let failed = &doc["failure"];
    assert_eq!(failed["kind"], "panic");
    assert_eq!(failed["node"], client);
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("the server never answered after the partition")
    );
    assert_eq!(
        failed["ns"].as_u64().unwrap(),
        failure.failure().elapsed().as_nanos() as u64
    );
}

#[test]
fn recording_the_timeline_changes_nothing_in_the_run() {
    let on = failing(8, Settings::quiet());
    let off = failing(8, Settings::quiet().timeline(Timeline::Off));
    assert!(off.timeline().is_none());
    assert!(!off.to_string().contains("\n  timeline: "));
    assert_eq!(on.fingerprint(), off.fingerprint());
    assert_eq!(on.log(), off.log());
}

/// A protocol that works: two pings.
async fn two_pings() {
    Builder::new("server")
        .init(|| async {
            let socket = UdpSocket::bind("0.0.0.0:9").await.unwrap();
            let mut buf = [0; 64];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                socket.send_to(&buf[..n], from).await.unwrap();
            }
        })
        .build();
    sleep(Duration::from_millis(1)).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let mut buf = [0; 64];
    for _ in 0..2 {
        socket.send_to(b"ping", "server:9").await.unwrap();
        socket.recv_from(&mut buf).await.unwrap();
    }
}

fn timeline_of(test: &Test, seed: u64, dir: &Path) -> PathBuf {
    dir.join(format!("{}-{seed:#x}.html", test.id().replace("::", ".")))
}

#[test]
fn all_writes_a_timeline_for_passing_seeds_too() {
    let t = test("two_pings");
    // The directory of log files: where a failing run's report puts them.
    let failure = failing(9, Settings::quiet());
    let dir = failure.log_file().unwrap().parent().unwrap().to_owned();
    for seed in [0x11, 0x12] {
        let _ = std::fs::remove_file(timeline_of(&t, seed, &dir));
    }
    let quiet = || {
        Settings::quiet()
            .seeds(2)
            .seed_base(harness::SeedBase::Fixed(0x11))
    };
    harness::try_run(test("two_pings").settings(quiet()), two_pings).unwrap();
    assert!(
        !timeline_of(&t, 0x11, &dir).exists(),
        "failures only, by default"
    );
    harness::try_run(
        test("two_pings").settings(quiet().timeline(Timeline::All)),
        two_pings,
    )
    .unwrap();
    // With the determinism check too: the first of the two runs is drawn.
    let _ = std::fs::remove_file(timeline_of(&t, 0x21, &dir));
    harness::try_run(
        test("two_pings").settings(
            Settings::quiet()
                .seed(0x21)
                .check_determinism(true)
                .timeline(Timeline::All),
        ),
        two_pings,
    )
    .unwrap();
    for seed in [0x11, 0x12, 0x21] {
        let html = std::fs::read_to_string(timeline_of(&t, seed, &dir)).unwrap();
        let doc = embedded(&html);
        assert_eq!(doc["outcome"], "pass");
        assert!(doc["failure"].is_null());
        assert_eq!(doc["messages"].as_array().unwrap().len(), 4);
    }
}

#[test]
fn sim_timeline_is_validated() {
    let err =
        Settings::from_lookup(|var| (var == "SIM_TIMELINE").then(|| "yes".to_owned())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sim: invalid environment variable SIM_TIMELINE=\"yes\": expected `off`, `failures` or `all`"
    );
}

/// The headless browser: `$CHROMIUM`, else the first of Chromium's usual
/// names on the `PATH`.
fn browser() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let names = [
        "chromium-headless-shell",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            if dir.join(name).is_file() {
                return dir.join(name);
            }
        }
    }
    panic!(
        "no headless Chromium found (tried {names:?} on the PATH): install one \
         (Debian: apt-get install chromium-headless-shell) or set CHROMIUM=<path>"
    );
}

/// Runs the browser on `page` with `args`, killed after a minute: a check
/// never hangs.
fn run_browser(page: &Path, args: &[&str]) -> String {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new(browser())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(["--window-size=1400,900", "--virtual-time-budget=5000"])
        .args(args)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the browser starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).map(|_| out)
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the browser failed on {url}: {status}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser took over a minute on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap().unwrap()
}

/// Loads `page` and checks the rendered DOM: no script error, a lane per
/// node in `lanes`, arrows, the failure marker.
fn check_in_browser(page: &Path, lanes: &[&str]) {
    let dom = run_browser(page, &["--dump-dom"]);
    assert!(!dom.contains("data-error"), "a script error: {dom}");
    let drawn = dom
        .split("data-drawn=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("the page never finished drawing: {dom}"));
    assert!(drawn > 0, "nothing drawn");
    for lane in lanes {
        assert!(
            dom.contains(&format!(">{lane}</div>")),
            "no lane for `{lane}`"
        );
    }
    assert!(dom.contains("marker-end=\"url(#arr)\""), "no arrow");
    assert!(dom.contains("stroke=\"var(--fail)\""), "no failure marker");
}

#[test]
#[ignore = "needs headless Chromium: cargo test -p sim --test harness_timeline -- --ignored"]
fn the_page_draws_in_a_browser() {
    let failure = failing(10, Settings::quiet());
    check_in_browser(failure.timeline().unwrap(), &["client", "server"]);
}

#[test]
#[ignore = "needs headless Chromium: cargo test -p sim --test harness_timeline -- --ignored"]
fn zoo_failures_draw_in_a_browser() {
    let found = heartbeat::ENTRY.find(&heartbeat::ENTRY.buggy, heartbeat::buggy);
    let nodes = timeline_nodes(found.failure.timeline().unwrap());
    check_in_browser(found.failure.timeline().unwrap(), &nodes);
    let found = exit_cascade::ENTRY.find(&exit_cascade::ENTRY.buggy, exit_cascade::buggy);
    let nodes = timeline_nodes(found.failure.timeline().unwrap());
    check_in_browser(found.failure.timeline().unwrap(), &nodes);
}

/// The names of a timeline's nodes.
fn timeline_nodes(page: &Path) -> Vec<&'static str> {
    let doc = embedded(&std::fs::read_to_string(page).unwrap());
    doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &*n["name"].as_str().unwrap().to_owned().leak())
        .collect()
}

/// Many round trips and log lines: well over 100,000 events, then a failure.
async fn chatty() {
    Builder::new("server")
        .init(|| async {
            let socket = UdpSocket::bind("0.0.0.0:9").await.unwrap();
            let mut buf = [0; 64];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                tracing::info!("echo {n} bytes");
                socket.send_to(&buf[..n], from).await.unwrap();
            }
        })
        .build();
    sleep(Duration::from_millis(1)).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let mut buf = [0; 64];
    for i in 0..12_000u32 {
        socket.send_to(&i.to_le_bytes(), "server:9").await.unwrap();
        socket.recv_from(&mut buf).await.unwrap();
        tracing::info!(i, "round trip");
    }
    panic!("enough");
}

#[test]
#[ignore = "needs headless Chromium: cargo test -p sim --test harness_timeline -- --ignored"]
fn a_long_run_draws_in_a_browser() {
    let failure = harness::try_run(
        test("chatty").seed(1).settings(Settings::quiet().shrink(0)),
        chatty,
    )
    .unwrap_err();
    let page = failure.timeline().unwrap();
    let doc = embedded(&std::fs::read_to_string(page).unwrap());
    assert!(
        doc["events"].as_u64().unwrap() > 100_000,
        "{}",
        doc["events"]
    );
    assert_eq!(doc["messages"].as_array().unwrap().len(), 24_000);
    let wall = std::time::Instant::now();
    check_in_browser(page, &["client", "server"]);
    // Only what is in view is drawn, within a budget per kind.
    let dom = run_browser(page, &["--dump-dom"]);
    assert!(
        dom.contains("not drawn (an even sample is)"),
        "the sample is announced"
    );
    assert!(
        wall.elapsed() < Duration::from_secs(30),
        "two loads took {:?}",
        wall.elapsed()
    );
}

/// The README's pictures: `docs/timeline-heartbeat.png` and
/// `docs/timeline-exit-cascade.png`, the timelines of two zoo failures.
#[test]
#[ignore = "writes the README's screenshots: cargo test -p sim --test harness_timeline -- --ignored readme_screenshots"]
fn readme_screenshots() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let heartbeat = heartbeat::ENTRY.find(&heartbeat::ENTRY.buggy, heartbeat::buggy);
    let cascade = exit_cascade::ENTRY.find(&exit_cascade::ENTRY.buggy, exit_cascade::buggy);
    for (found, name) in [(heartbeat, "heartbeat"), (cascade, "exit-cascade")] {
        let png = docs.join(format!("timeline-{name}.png"));
        let _ = std::fs::remove_file(&png);
        let arg = format!("--screenshot={}", png.display());
        run_browser(found.failure.timeline().unwrap(), &[&arg]);
        assert!(png.is_file(), "{} was not written", png.display());
    }
}
