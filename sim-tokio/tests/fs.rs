//! `tokio::fs` through the layer, run by CI under both builds: against the
//! real disk (`cargo test -p sim-tokio --all-features`, in a temporary
//! directory) and against the simulated disk of the task's node
//! (`RUSTFLAGS="--cfg sim" cargo test -p sim-tokio --all-features`). The
//! same source passing both is what "drop-in" means.

extern crate sim_tokio as tokio;

use std::io::SeekFrom;
use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A fresh directory for `test`: under the simulation, on the node's own
/// disk; on the real disk, under the system's temporary directory.
fn base(test: &str) -> PathBuf {
    if cfg!(sim) {
        PathBuf::from("/data").join(test)
    } else {
        std::env::temp_dir().join(format!("sim-tokio-fs-{}-{test}", std::process::id()))
    }
}

#[tokio::test]
async fn files_written_read_renamed_and_listed() {
    let dir = base("files");
    tokio::fs::create_dir_all(&dir).await.unwrap();
    let path = dir.join("a.log");
    let mut file = tokio::fs::File::create(&path).await.unwrap();
    file.write_all(b"hello world").await.unwrap();
    file.sync_all().await.unwrap();
    drop(file);

    let mut file = tokio::fs::OpenOptions::new()
        .read(true)
        .open(&path)
        .await
        .unwrap();
    file.seek(SeekFrom::Start(6)).await.unwrap();
    let mut rest = String::new();
    file.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "world");
    assert_eq!(tokio::fs::metadata(&path).await.unwrap().len(), 11);

    let moved = dir.join("b.log");
    tokio::fs::rename(&path, &moved).await.unwrap();
    assert!(!tokio::fs::try_exists(&path).await.unwrap());
    assert_eq!(
        tokio::fs::read_to_string(&moved).await.unwrap(),
        "hello world"
    );

    tokio::fs::write(dir.join("c.log"), b"x").await.unwrap();
    let mut entries = tokio::fs::read_dir(&dir).await.unwrap();
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await.unwrap() {
        names.push(entry.file_name().into_string().unwrap());
    }
    names.sort();
    assert_eq!(names, ["b.log", "c.log"]);

    let missing = tokio::fs::read(dir.join("nope")).await.unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    tokio::fs::remove_dir_all(&dir).await.unwrap();
}

/// Under the simulation a restart is a power loss: what was not synced is
/// gone, whatever the run decides about the rest.
#[cfg(sim)]
#[tokio::test]
async fn a_restart_loses_what_was_not_synced() {
    let db = sim_runtime::node::Builder::new("db").build();
    let lose = sim_fs::DiskConfig::new().crash(sim_fs::Crash::LoseUnsynced);
    sim_fs::set_config(db.id(), lose);
    db.spawn(async {
        let mut file = tokio::fs::File::create("/kept").await.unwrap();
        file.write_all(b"synced").await.unwrap();
        file.sync_all().await.unwrap();
        sim_fs::sync_dir("/").await.unwrap();
        file.write_all(b" and not").await.unwrap();
    })
    .await
    .unwrap();
    db.restart();
    let kept = db.spawn(async { tokio::fs::read("/kept").await.unwrap() });
    assert_eq!(kept.await.unwrap(), b"synced");
}
