//! LFW pair lists in both layouts (`pairsDevTest.txt`: a count; `pairs.txt`: `folds count`), the
//! deterministic fold split of a single set, and malformed files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::Path;

use facerec::eval::protocol::{parse_pairs, scan_people, ImageRef, Layout};

/// A single-set file with `n` same-person and `n` different-people lines.
fn single_set(n: usize) -> String {
    let mut text = format!("{n}\n");
    for i in 0..n {
        text.push_str(&format!("Person_{i}\t1\t{}\n", i + 2));
    }
    for i in 0..n {
        text.push_str(&format!("Person_{i}\t1\tOther_{i}\t{}\n", i + 3));
    }
    text
}

#[test]
fn devtest_layout_is_split_into_contiguous_folds() {
    let list = parse_pairs(&single_set(20), 10).expect("valid file");
    assert_eq!(list.layout, Layout::SingleSet { count: 20 });
    assert_eq!(list.folds, 10);
    assert_eq!(list.pairs.len(), 40);
    let first = &list.pairs[0];
    assert_eq!(
        first.a,
        ImageRef {
            name: "Person_0".into(),
            number: 1
        }
    );
    assert_eq!(
        first.b,
        ImageRef {
            name: "Person_0".into(),
            number: 2
        }
    );
    assert!(first.same);
    let diff = &list.pairs[20];
    assert!(!diff.same);
    assert_eq!(
        diff.b,
        ImageRef {
            name: "Other_0".into(),
            number: 3
        }
    );
    // Same pairs 0,1 -> fold 0, 2,3 -> fold 1, ...; the different pairs likewise.
    let same_folds: Vec<usize> = list.pairs[..20].iter().map(|p| p.fold).collect();
    let diff_folds: Vec<usize> = list.pairs[20..].iter().map(|p| p.fold).collect();
    let expected: Vec<usize> = (0..20).map(|i| i / 2).collect();
    assert_eq!(same_folds, expected);
    assert_eq!(diff_folds, expected);
    assert!(list.folds_note.contains("split into 10 folds"));
}

#[test]
fn folds_layout_keeps_the_files_folds() {
    // 2 folds of 2 same + 2 different, as pairs.txt (10 folds of 300 + 300) is laid out.
    let text = "2\t2\nA\t1\t2\nB\t1\t3\nA\t1\tB\t2\nC\t4\tD\t1\nE\t1\t2\nF\t2\t3\nG\t1\tH\t1\nE\t2\tF\t1\n";
    let list = parse_pairs(text, 10).expect("valid file");
    assert_eq!(list.layout, Layout::Folds { folds: 2, count: 2 });
    assert_eq!(list.folds, 2);
    let summary: Vec<(bool, usize)> = list.pairs.iter().map(|p| (p.same, p.fold)).collect();
    assert_eq!(
        summary,
        vec![
            (true, 0),
            (true, 0),
            (false, 0),
            (false, 0),
            (true, 1),
            (true, 1),
            (false, 1),
            (false, 1)
        ]
    );
    assert_eq!(
        list.pairs[3].a,
        ImageRef {
            name: "C".into(),
            number: 4
        }
    );
}

#[test]
fn image_paths_follow_the_lfw_naming() {
    let r = ImageRef {
        name: "Abel_Pacheco".into(),
        number: 4,
    };
    assert_eq!(
        r.path(Path::new("/d")),
        Path::new("/d/Abel_Pacheco/Abel_Pacheco_0004.jpg")
    );
    assert_eq!(r.to_string(), "Abel_Pacheco_0004");
}

#[test]
fn malformed_files_are_errors_naming_the_line() {
    let err = |text: &str| parse_pairs(text, 10).expect_err("must be rejected").to_string();
    assert!(err("").contains("empty"));
    assert!(err("ten\nA 1 2\n").contains("header"));
    assert!(err("1 2 3\n").contains("header"));
    // Header announces 2+2, file has 1+1.
    assert!(err("2\nA 1 2\nA 1 B 2\n").contains("line 3"));
    // A different-people line where a same-person line must be.
    assert!(err("1\nA 1 B 2\nA 1 2\n").contains("line 2"));
    // Extra lines.
    assert!(err("1\nA 1 2\nA 1 B 2\nC 1 3\n").contains("line 4"));
    // Image numbers are 1-based.
    assert!(err("1\nA 0 2\nA 1 B 2\n").contains("positive"));
}

#[test]
fn people_are_folders_of_images_sorted_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (person, files) in [
        ("Zed", vec!["Zed_0002.jpg", "Zed_0001.jpg"]),
        ("Amy", vec!["Amy_0001.png"]),
        ("Empty", vec![]),
    ] {
        std::fs::create_dir(dir.path().join(person)).expect("mkdir");
        for f in files {
            std::fs::write(dir.path().join(person).join(f), b"x").expect("write");
        }
    }
    std::fs::write(dir.path().join("Zed").join("notes.txt"), b"x").expect("write");
    let people = scan_people(dir.path()).expect("scan");
    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["Amy", "Zed"]);
    let zed: Vec<String> = people[1].images.iter().map(|p| facerec::eval::file_label(p)).collect();
    assert_eq!(zed, vec!["Zed_0001.jpg", "Zed_0002.jpg"]);
}
