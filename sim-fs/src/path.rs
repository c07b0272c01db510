//! Paths as a node sees them: relative ones start at `/`.

use std::io;
use std::path::{Component, Path};

use crate::error;

/// The names of `path`'s components from the root, `.` dropped and `..`
/// applied (`..` at the root stays there), and the path as text for
/// error messages.
pub(crate) fn resolve(path: &Path) -> io::Result<(String, Vec<String>)> {
    let text = path.display().to_string();
    if text.is_empty() {
        return Err(error::not_found("\"\""));
    }
    let mut names = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Prefix(_) => {
                return Err(error::invalid("sim::fs: path prefixes are not supported"));
            }
            Component::ParentDir => {
                names.pop();
            }
            Component::Normal(name) => match name.to_str() {
                Some(name) => names.push(name.to_owned()),
                None => return Err(error::invalid("sim::fs: paths must be UTF-8")),
            },
        }
    }
    Ok((text, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_start_at_the_root() {
        let names = |p: &str| resolve(Path::new(p)).unwrap().1;
        assert_eq!(names("a/b"), ["a", "b"]);
        assert_eq!(names("/a/./b/../c"), ["a", "c"]);
        assert_eq!(names("/../a"), ["a"]);
        assert!(names("/").is_empty());
    }
}
