//! `sim::fs` behaves as a POSIX file system on Linux does: a catalogue of
//! cases, each named for the behaviour it pins.

use std::io::{ErrorKind, SeekFrom};

use futures::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use sim::fs::{self, File, OpenOptions};

/// Runs `body` in a fresh simulation.
fn sim<F: Future<Output = ()>>(body: impl FnOnce() -> F) {
    sim::Runtime::new(1).block_on(body());
}

fn kind<T: std::fmt::Debug>(r: std::io::Result<T>) -> ErrorKind {
    r.expect_err("the call fails").kind()
}

#[test]
fn a_written_file_reads_back() {
    sim(|| async {
        fs::write("/a", b"hello").await.unwrap();
        assert_eq!(fs::read("/a").await.unwrap(), b"hello");
        assert_eq!(fs::read_to_string("/a").await.unwrap(), "hello");
    });
}

#[test]
fn relative_paths_are_relative_to_the_root() {
    sim(|| async {
        fs::create_dir("d").await.unwrap();
        fs::write("d/./f", b"x").await.unwrap();
        assert_eq!(fs::read("/d/f").await.unwrap(), b"x");
        assert_eq!(fs::read("/d/../d/f").await.unwrap(), b"x");
    });
}

#[test]
fn open_of_a_missing_file_is_not_found() {
    sim(|| async {
        assert_eq!(kind(File::open("/nope").await), ErrorKind::NotFound);
        assert_eq!(kind(fs::write("/no/dir/f", b"").await), ErrorKind::NotFound);
    });
}

#[test]
fn a_file_in_the_middle_of_a_path_is_not_a_directory() {
    sim(|| async {
        fs::write("/f", b"").await.unwrap();
        assert_eq!(kind(fs::read("/f/g").await), ErrorKind::NotADirectory);
        assert_eq!(
            kind(fs::create_dir_all("/f/g").await),
            ErrorKind::NotADirectory
        );
        assert_eq!(kind(fs::read_dir("/f").await), ErrorKind::NotADirectory);
    });
}

#[test]
fn create_new_on_an_existing_file_is_already_exists() {
    sim(|| async {
        fs::write("/a", b"").await.unwrap();
        assert_eq!(kind(File::create_new("/a").await), ErrorKind::AlreadyExists);
        assert_eq!(kind(fs::create_dir("/a").await), ErrorKind::AlreadyExists);
        assert_eq!(
            kind(fs::create_dir_all("/a").await),
            ErrorKind::AlreadyExists
        );
    });
}

#[test]
fn open_options_without_access_or_create_without_write_are_invalid_input() {
    sim(|| async {
        assert_eq!(
            kind(OpenOptions::new().open("/a").await),
            ErrorKind::InvalidInput
        );
        let create_read_only = OpenOptions::new().read(true).create(true).open("/a").await;
        assert_eq!(kind(create_read_only), ErrorKind::InvalidInput);
        let append_truncate = OpenOptions::new()
            .append(true)
            .truncate(true)
            .open("/a")
            .await;
        assert_eq!(kind(append_truncate), ErrorKind::InvalidInput);
    });
}

#[test]
fn writing_a_directory_is_is_a_directory() {
    sim(|| async {
        fs::create_dir("/d").await.unwrap();
        assert_eq!(kind(fs::write("/d", b"x").await), ErrorKind::IsADirectory);
        assert_eq!(kind(fs::read("/d").await), ErrorKind::IsADirectory);
        assert_eq!(kind(fs::remove_file("/d").await), ErrorKind::IsADirectory);
    });
}

#[test]
fn seek_past_the_end_then_write_leaves_a_hole_of_zeros() {
    sim(|| async {
        let mut f = File::create("/a").await.unwrap();
        f.write_all(b"ab").await.unwrap();
        assert_eq!(f.seek(SeekFrom::Start(6)).await.unwrap(), 6);
        f.write_all(b"cd").await.unwrap();
        assert_eq!(fs::read("/a").await.unwrap(), b"ab\0\0\0\0cd");
    });
}

#[test]
fn seek_from_end_and_current_and_before_the_start() {
    sim(|| async {
        fs::write("/a", b"0123456789").await.unwrap();
        let mut f = File::open("/a").await.unwrap();
        assert_eq!(f.seek(SeekFrom::End(-3)).await.unwrap(), 7);
        let mut buf = [0; 2];
        f.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"78");
        assert_eq!(f.seek(SeekFrom::Current(-4)).await.unwrap(), 5);
        assert_eq!(
            kind(f.seek(SeekFrom::Current(-6)).await),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn append_writes_always_go_to_the_end() {
    sim(|| async {
        fs::write("/log", b"a").await.unwrap();
        let mut f = OpenOptions::new().append(true).open("/log").await.unwrap();
        f.seek(SeekFrom::Start(0)).await.unwrap();
        f.write_all(b"b").await.unwrap();
        fs::write("/other", b"").await.unwrap();
        let mut g = OpenOptions::new().append(true).open("/log").await.unwrap();
        g.write_all(b"c").await.unwrap();
        f.write_all(b"d").await.unwrap();
        assert_eq!(fs::read("/log").await.unwrap(), b"abcd");
    });
}

#[test]
fn truncate_on_open_empties_the_file() {
    sim(|| async {
        fs::write("/a", b"long content").await.unwrap();
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open("/a")
            .await
            .unwrap();
        f.write_all(b"x").await.unwrap();
        assert_eq!(fs::read("/a").await.unwrap(), b"x");
    });
}

#[test]
fn set_len_truncates_and_extends_with_zeros() {
    sim(|| async {
        fs::write("/a", b"abcdef").await.unwrap();
        let f = OpenOptions::new().write(true).open("/a").await.unwrap();
        f.set_len(2).await.unwrap();
        assert_eq!(fs::read("/a").await.unwrap(), b"ab");
        f.set_len(4).await.unwrap();
        assert_eq!(fs::read("/a").await.unwrap(), b"ab\0\0");
        assert_eq!(f.metadata().await.unwrap().len(), 4);
    });
}

#[test]
fn writes_through_one_handle_are_seen_by_another_at_once() {
    sim(|| async {
        let mut w = File::create("/a").await.unwrap();
        let mut r = File::open("/a").await.unwrap();
        w.write_all(b"abc").await.unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"abc");
    });
}

#[test]
fn writing_a_read_only_handle_is_bad_file_descriptor() {
    sim(|| async {
        fs::write("/a", b"x").await.unwrap();
        let mut r = File::open("/a").await.unwrap();
        let err = r.write(b"y").await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(9), "{err}");
        let mut w = OpenOptions::new().write(true).open("/a").await.unwrap();
        let err = w.read(&mut [0; 1]).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(9), "{err}");
    });
}

#[test]
fn rename_replaces_the_target_atomically() {
    sim(|| async {
        fs::write("/new", b"new").await.unwrap();
        fs::write("/cur", b"old").await.unwrap();
        let mut old_reader = File::open("/cur").await.unwrap();
        fs::rename("/new", "/cur").await.unwrap();
        assert_eq!(fs::read("/cur").await.unwrap(), b"new");
        assert!(!fs::try_exists("/new").await.unwrap());
        // A handle open on the replaced file still reads it.
        let mut out = String::new();
        old_reader.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "old");
    });
}

#[test]
fn rename_of_a_missing_file_is_not_found() {
    sim(|| async {
        assert_eq!(kind(fs::rename("/a", "/b").await), ErrorKind::NotFound);
    });
}

#[test]
fn rename_of_a_directory_moves_its_contents() {
    sim(|| async {
        fs::create_dir_all("/a/b").await.unwrap();
        fs::write("/a/b/f", b"x").await.unwrap();
        fs::rename("/a", "/c").await.unwrap();
        assert_eq!(fs::read("/c/b/f").await.unwrap(), b"x");
        assert!(!fs::try_exists("/a").await.unwrap());
    });
}

#[test]
fn rename_mismatches_between_files_and_directories() {
    sim(|| async {
        fs::create_dir_all("/d/sub").await.unwrap();
        fs::create_dir("/e").await.unwrap();
        fs::write("/f", b"").await.unwrap();
        assert_eq!(kind(fs::rename("/f", "/d").await), ErrorKind::IsADirectory);
        assert_eq!(kind(fs::rename("/e", "/f").await), ErrorKind::NotADirectory);
        assert_eq!(
            kind(fs::rename("/e", "/d").await),
            ErrorKind::DirectoryNotEmpty
        );
        assert_eq!(
            kind(fs::rename("/d", "/d/sub/x").await),
            ErrorKind::InvalidInput
        );
        fs::rename("/d/sub", "/e").await.unwrap(); // an empty directory is replaced
        assert!(fs::metadata("/e").await.unwrap().is_dir());
    });
}

#[test]
fn rename_onto_itself_changes_nothing() {
    sim(|| async {
        fs::write("/a", b"x").await.unwrap();
        fs::rename("/a", "/a").await.unwrap();
        assert_eq!(fs::read("/a").await.unwrap(), b"x");
    });
}

#[test]
fn remove_of_a_non_empty_dir_is_directory_not_empty() {
    sim(|| async {
        fs::create_dir("/d").await.unwrap();
        fs::write("/d/f", b"").await.unwrap();
        assert_eq!(
            kind(fs::remove_dir("/d").await),
            ErrorKind::DirectoryNotEmpty
        );
        assert_eq!(kind(fs::remove_dir("/d/f").await), ErrorKind::NotADirectory);
        assert_eq!(kind(fs::remove_dir("/").await), ErrorKind::ResourceBusy);
        fs::remove_dir_all("/d").await.unwrap();
        assert!(!fs::try_exists("/d").await.unwrap());
    });
}

#[test]
fn remove_of_a_missing_file_is_not_found() {
    sim(|| async {
        assert_eq!(kind(fs::remove_file("/a").await), ErrorKind::NotFound);
        assert_eq!(kind(fs::remove_dir("/a").await), ErrorKind::NotFound);
        assert_eq!(kind(fs::remove_dir_all("/a").await), ErrorKind::NotFound);
    });
}

#[test]
fn a_removed_file_stays_readable_through_an_open_handle() {
    sim(|| async {
        fs::write("/a", b"still here").await.unwrap();
        let mut f = File::open("/a").await.unwrap();
        fs::remove_file("/a").await.unwrap();
        let mut out = String::new();
        f.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "still here");
        assert!(fs::list(sim::node::current().id()).is_empty());
    });
}

#[test]
fn read_dir_lists_entries_in_name_order_with_their_types() {
    sim(|| async {
        fs::create_dir("/d").await.unwrap();
        fs::create_dir("/d/z").await.unwrap();
        fs::write("/d/b", b"12").await.unwrap();
        fs::write("/d/a", b"1").await.unwrap();
        let mut entries = fs::read_dir("/d").await.unwrap();
        let mut seen = Vec::new();
        while let Some(e) = entries.next_entry().await.unwrap() {
            let meta = e.metadata().await.unwrap();
            seen.push((e.path().display().to_string(), meta.is_dir(), meta.len()));
        }
        assert_eq!(
            seen,
            [
                ("/d/a".to_owned(), false, 1),
                ("/d/b".to_owned(), false, 2),
                ("/d/z".to_owned(), true, 0)
            ]
        );
    });
}

#[test]
fn copy_and_hard_link() {
    sim(|| async {
        fs::write("/a", b"abc").await.unwrap();
        assert_eq!(fs::copy("/a", "/b").await.unwrap(), 3);
        fs::hard_link("/a", "/c").await.unwrap();
        fs::write("/a", b"xyz").await.unwrap(); // through the link too
        assert_eq!(fs::read("/b").await.unwrap(), b"abc");
        assert_eq!(fs::read("/c").await.unwrap(), b"xyz");
        assert_eq!(
            kind(fs::hard_link("/a", "/b").await),
            ErrorKind::AlreadyExists
        );
        fs::create_dir("/d").await.unwrap();
        assert_eq!(
            kind(fs::hard_link("/d", "/e").await),
            ErrorKind::PermissionDenied
        );
    });
}

#[test]
fn metadata_tells_files_from_directories_and_their_times() {
    sim(|| async {
        fs::write("/a", b"abc").await.unwrap();
        sim::time::sleep(std::time::Duration::from_secs(5)).await;
        fs::write("/b", b"").await.unwrap();
        let (a, b) = (
            fs::metadata("/a").await.unwrap(),
            fs::metadata("/b").await.unwrap(),
        );
        assert!(a.is_file() && !a.is_dir() && a.len() == 3);
        let gap = b.modified().unwrap().duration_since(a.modified().unwrap());
        assert_eq!(gap.unwrap(), std::time::Duration::from_secs(5));
        assert!(fs::metadata("/").await.unwrap().is_dir());
    });
}

#[test]
fn two_nodes_never_see_each_others_files() {
    sim(|| async {
        let a = sim::node::Builder::new("a").build();
        let b = sim::node::Builder::new("b").build();
        a.spawn(async { fs::write("/shared", b"from a").await.unwrap() })
            .await
            .unwrap();
        let seen = b.spawn(async { fs::try_exists("/shared").await.unwrap() });
        assert!(!seen.await.unwrap());
        b.spawn(async { fs::write("/shared", b"from b").await.unwrap() })
            .await
            .unwrap();
        let read = a.spawn(async { fs::read("/shared").await.unwrap() });
        assert_eq!(read.await.unwrap(), b"from a");
        assert_eq!(fs::list(a.id()).len(), 1);
        assert!(fs::list(sim::node::current().id()).is_empty());
    });
}

#[test]
fn two_simulations_never_share_a_disk() {
    sim(|| async { fs::write("/a", b"x").await.unwrap() });
    sim(|| async { assert!(!fs::try_exists("/a").await.unwrap()) });
}

#[test]
fn a_file_handle_is_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    sim(|| async {
        let f = File::create("/a").await.unwrap();
        send_sync(&f);
        send_sync(&fs::read("/a"));
    });
}

#[test]
fn outside_a_simulation_a_file_operation_says_what_to_do() {
    let err = futures::executor::block_on(fs::read("/a")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("outside a simulation"), "{text}");
    assert!(text.contains("sim::Runtime::block_on"), "{text}");
}

#[test]
#[should_panic(expected = "`sim::fs::stats` was called outside a simulation")]
fn outside_a_simulation_a_disk_control_panics_saying_what_to_do() {
    let _ = fs::stats(sim::Runtime::new(1).block_on(async { sim::node::current().id() }));
}

#[test]
fn a_handle_used_after_its_node_restarted_is_stale() {
    sim(|| async {
        let node = sim::node::Builder::new("db").build();
        let (tx, rx) = futures::channel::oneshot::channel();
        node.spawn(async move {
            let f = File::create("/a").await.unwrap();
            tx.send(f).unwrap();
        })
        .await
        .unwrap();
        let mut f = rx.await.unwrap();
        node.restart();
        let err = f.write(b"x").await.unwrap_err();
        assert!(err.to_string().contains("before its node crashed"), "{err}");
    });
}
