//! Tests for configuration parsing, variables, includes, errors and the mapping onto `Options`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::units::{parse_duration, parse_storage_size, split_host_port};
use super::*;
use crate::options::Options;

use super::test_support::{opts, opts_err, ORIGIN};

fn parse(text: &str) -> Map {
    parse_str(text, Path::new(ORIGIN)).unwrap_or_else(|e| panic!("unexpected error: {e}\n--- input:\n{text}"))
}

fn parse_err(text: &str) -> ConfigError {
    match parse_str(text, Path::new(ORIGIN)) {
        Ok(m) => panic!("expected an error, got {m:?}\n--- input:\n{text}"),
        Err(e) => e,
    }
}

fn kind<'a>(m: &'a Map, key: &str) -> &'a ValueKind {
    &m.get(key)
        .unwrap_or_else(|| panic!("no key {key:?} in {m:?}"))
        .kind
}

fn string(m: &Map, key: &str) -> String {
    match kind(m, key) {
        ValueKind::String(s) => s.clone(),
        other => panic!("{key}: expected a string, got {other:?}"),
    }
}

fn int(m: &Map, key: &str) -> i64 {
    match kind(m, key) {
        ValueKind::Integer(i) => *i,
        other => panic!("{key}: expected an integer, got {other:?}"),
    }
}

fn assert_syntax(text: &str, line: u32, column: u32, fragment: &str) {
    let e = parse_err(text);
    let msg = e.to_string();
    assert!(
        matches!(e, ConfigError::Syntax { .. }),
        "not a syntax error: {msg}"
    );
    let expected = format!("{ORIGIN}:{line}:{column}: ");
    assert!(
        msg.starts_with(&expected),
        "{msg:?} should start with {expected:?}"
    );
    assert!(msg.contains(fragment), "{msg:?} should contain {fragment:?}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// ----- syntax -----

#[test]
fn key_value_separators_colon_equals_and_whitespace_are_equivalent() {
    let m = parse("a: 1\nb = 2\nc 3\nd:4\ne=5\nf\t6\n");
    for (k, v) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)] {
        assert_eq!(int(&m, k), v);
    }
}

#[test]
fn semicolons_and_commas_end_entries() {
    let m = parse("a: 1; b: 2, c: 3;\nd { x: 1; y: 2, z: 3 }");
    assert_eq!(int(&m, "a") + int(&m, "b") + int(&m, "c"), 6);
    let d = m.get("d").unwrap().as_map().unwrap();
    let pairs: Vec<(&str, i64)> = d
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_i64().unwrap()))
        .collect();
    assert_eq!(pairs, vec![("x", 1), ("y", 2), ("z", 3)]);
}

#[test]
fn hash_and_double_slash_comments_are_ignored() {
    let m = parse("# top\n// also\na: 1 # after\nb: 2 // after\nc: [1, # in array\n 2 // more\n]\nd { # in map\n e: 1 }\n");
    assert_eq!(int(&m, "a"), 1);
    assert_eq!(int(&m, "b"), 2);
    assert_eq!(m.get("c").unwrap().as_array().unwrap().len(), 2);
    assert_eq!(m.len(), 4);
}

#[test]
fn value_may_start_on_a_later_line_when_there_is_no_separator() {
    let m = parse("authorization\n{\n  user: a\n}\nport\n4222\n");
    assert_eq!(int(&m, "port"), 4222);
    assert_eq!(
        string(m.get("authorization").unwrap().as_map().unwrap(), "user"),
        "a"
    );
}

#[test]
fn whole_file_may_be_wrapped_in_braces_like_json() {
    let m = parse("{\n  \"port\": 4222,\n  \"authorization\": {\"user\": \"a\", \"password\": \"b\"},\n  \"list\": [1, 2]\n}\n");
    assert_eq!(int(&m, "port"), 4222);
    assert_eq!(m.get("list").unwrap().as_array().unwrap().len(), 2);
    assert_eq!(
        string(m.get("authorization").unwrap().as_map().unwrap(), "password"),
        "b"
    );
}

#[test]
fn quoted_keys_may_hold_any_character() {
    let m = parse("\"a key\": 1\n'b:c' = 2\n");
    assert_eq!(int(&m, "a key"), 1);
    assert_eq!(int(&m, "b:c"), 2);
}

#[test]
fn maps_and_arrays_nest() {
    let m = parse("a { b { c: [ {d: [1, [2, 3]]}, x ] } }");
    let a = m.get("a").unwrap().as_map().unwrap();
    let b = a.get("b").unwrap().as_map().unwrap();
    let c = b.get("c").unwrap().as_array().unwrap();
    assert_eq!(c.len(), 2);
    let d = c[0].as_map().unwrap().get("d").unwrap().as_array().unwrap();
    assert_eq!(d[0].as_i64(), Some(1));
    assert_eq!(d[1].as_array().unwrap().len(), 2);
    assert_eq!(c[1].as_str(), Some("x"));
}

#[test]
fn arrays_take_commas_or_new_lines_and_a_trailing_comma() {
    let m = parse("a: [1, 2, 3]\nb: [\n  1\n  2,\n  3,\n]\nc: []\nd: [ ]\n");
    let ints = |k: &str| {
        m.get(k)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(ints("a"), vec![1, 2, 3]);
    assert_eq!(ints("b"), vec![1, 2, 3]);
    assert!(ints("c").is_empty());
    assert!(ints("d").is_empty());
}

#[test]
fn double_quoted_strings_process_escapes() {
    let m = parse(r#"a: "tab\tnl\ncr\rq\"bs\\hex\x41\xc3\xa9""#);
    assert_eq!(string(&m, "a"), "tab\tnl\ncr\rq\"bs\\hexAé");
    let m = parse("a: \"multi\nline # not a comment\"");
    assert_eq!(string(&m, "a"), "multi\nline # not a comment");
}

#[test]
fn single_quoted_strings_are_raw() {
    let m = parse(r"a: 'C:\dir\new $notavar # x'");
    assert_eq!(string(&m, "a"), r"C:\dir\new $notavar # x");
}

#[test]
fn bare_strings_keep_urls_paths_addresses_and_durations() {
    let m = parse(
        "url: nats://host:4222/x\npath: /tmp/a/b\nrel: ./data\nip: 127.0.0.1\naddr: 127.0.0.1:4222\n\
         any: :4222\nd1: 10s\nd2: 1h30m\nd3: 500ms\nhash: a#b\nesc: a\\tb\n",
    );
    assert_eq!(string(&m, "url"), "nats://host:4222/x");
    assert_eq!(string(&m, "path"), "/tmp/a/b");
    assert_eq!(string(&m, "rel"), "./data");
    assert_eq!(string(&m, "ip"), "127.0.0.1");
    assert_eq!(string(&m, "addr"), "127.0.0.1:4222");
    assert_eq!(string(&m, "any"), ":4222");
    assert_eq!(string(&m, "d1"), "10s");
    assert_eq!(string(&m, "d2"), "1h30m");
    assert_eq!(string(&m, "d3"), "500ms");
    assert_eq!(string(&m, "hash"), "a#b");
    assert_eq!(string(&m, "esc"), "a\tb");
}

#[test]
fn booleans_accept_true_false_yes_no_on_off_in_any_case() {
    let m = parse("a: true\nb: YES\nc: On\nd: false\ne: no\nf: OFF\ng: \"true\"\nh: truely\n");
    for k in ["a", "b", "c"] {
        assert_eq!(m.get(k).unwrap().as_bool(), Some(true), "{k}");
    }
    for k in ["d", "e", "f"] {
        assert_eq!(m.get(k).unwrap().as_bool(), Some(false), "{k}");
    }
    assert_eq!(string(&m, "g"), "true");
    assert_eq!(string(&m, "h"), "truely");
}

#[test]
fn integers_may_be_negative() {
    let m = parse("a: 0\nb: -1\nc: 9223372036854775807\nd: -9223372036854775808\n");
    assert_eq!(int(&m, "a"), 0);
    assert_eq!(int(&m, "b"), -1);
    assert_eq!(int(&m, "c"), i64::MAX);
    assert_eq!(int(&m, "d"), i64::MIN);
}

#[test]
fn size_suffixes_are_powers_of_1000_or_1024() {
    let cases: &[(&str, i64)] = &[
        ("1k", 1_000),
        ("1K", 1_000),
        ("1kb", 1024),
        ("1KB", 1024),
        ("1ki", 1024),
        ("1KiB", 1024),
        ("2m", 2_000_000),
        ("2mb", 2 << 20),
        ("2mi", 2 << 20),
        ("2mib", 2 << 20),
        ("3g", 3_000_000_000),
        ("3gb", 3 << 30),
        ("1t", 1_000_000_000_000),
        ("1tb", 1 << 40),
        ("1p", 1_000_000_000_000_000),
        ("1pib", 1 << 50),
        ("1e", 1_000_000_000_000_000_000),
        ("1eb", 1 << 60),
        ("-1k", -1_000),
    ];
    for (text, want) in cases {
        assert_eq!(int(&parse(&format!("a: {text}")), "a"), *want, "{text}");
    }
}

#[test]
fn floats_need_digits_on_both_sides_of_the_point() {
    let m = parse("a: 1.5\nb: -0.25\nc: 1.2.3\n");
    assert_eq!(m.get("a").unwrap().as_f64(), Some(1.5));
    assert_eq!(m.get("b").unwrap().as_f64(), Some(-0.25));
    assert_eq!(string(&m, "c"), "1.2.3");
}

#[test]
fn datetimes_in_zulu_form_are_parsed() {
    let m = parse("a: 2024-02-29T23:59:58Z\n");
    let ValueKind::Datetime(dt) = kind(&m, "a") else {
        panic!("not a datetime")
    };
    assert_eq!(
        (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second),
        (2024, 2, 29, 23, 59, 58)
    );
    assert_eq!(dt.to_string(), "2024-02-29T23:59:58Z");
}

#[test]
fn block_strings_run_until_a_closing_paren_alone_on_its_line() {
    let m = parse("a (\nline one\n  (nested) )\n)\nb: 2\n");
    assert_eq!(string(&m, "a"), "\nline one\n  (nested) )\n");
    assert_eq!(int(&m, "b"), 2);
    let m = parse("a: (\nx\n)");
    assert_eq!(string(&m, "a"), "\nx\n");
}

#[test]
fn a_repeated_key_replaces_the_earlier_value() {
    let m = parse("port: 1\nport: 2\nother: 3\n");
    assert_eq!(int(&m, "port"), 2);
    assert_eq!(m.len(), 2);
    assert_eq!(m.entry("port").unwrap().key_pos.line, 2);
}

#[test]
fn positions_are_one_based_lines_and_columns_of_keys_and_values() {
    let m = parse("a: 1\n  bb = \"x\"\nc {\n   d: [5]\n}\n");
    let e = m.entry("bb").unwrap();
    assert_eq!((e.key_pos.line, e.key_pos.column), (2, 3));
    assert_eq!((e.value.pos.line, e.value.pos.column), (2, 8));
    assert_eq!(&*e.key_pos.file, Path::new(ORIGIN));
    let d = m.get("c").unwrap().as_map().unwrap().entry("d").unwrap();
    assert_eq!((d.key_pos.line, d.key_pos.column), (4, 4));
    let five = &d.value.as_array().unwrap()[0];
    assert_eq!((five.pos.line, five.pos.column), (4, 8));
    assert_eq!(five.pos.to_string(), format!("{ORIGIN}:4:8"));
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark_are_accepted() {
    let m = parse("\u{feff}a: 1\r\nb {\r\n  c: x\r\n}\r\nd: [1,\r\n 2]\r\n");
    assert_eq!(int(&m, "a"), 1);
    assert_eq!(string(m.get("b").unwrap().as_map().unwrap(), "c"), "x");
    assert_eq!(m.get("d").unwrap().as_array().unwrap().len(), 2);
}

#[test]
fn empty_and_comment_only_files_are_empty_maps() {
    assert!(parse("").is_empty());
    assert!(parse("  \n# nothing\n// here\n\n").is_empty());
    assert!(parse("{}").is_empty());
}

// ----- variables -----

#[test]
fn variables_resolve_from_the_current_and_enclosing_blocks() {
    let m = parse("a = 1\nb { c = 2\n d { e: $a, f: $c } }\ng: $a\n");
    let d = m
        .get("b")
        .unwrap()
        .as_map()
        .unwrap()
        .get("d")
        .unwrap()
        .as_map()
        .unwrap();
    assert_eq!(int(d, "e"), 1);
    assert_eq!(int(d, "f"), 2);
    assert_eq!(int(&m, "g"), 1);
}

#[test]
fn inner_variables_shadow_outer_ones() {
    let m = parse("x = outer\nb { x = inner\n y: $x }\nz: $x\n");
    assert_eq!(string(m.get("b").unwrap().as_map().unwrap(), "y"), "inner");
    assert_eq!(string(&m, "z"), "outer");
}

#[test]
fn variables_can_hold_maps_and_arrays_and_take_the_reference_position() {
    let m = parse("perms = {pub: [a, b]}\nuser: $perms\n");
    let user = m.get("user").unwrap();
    assert_eq!(
        user.as_map()
            .unwrap()
            .get("pub")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!((user.pos.line, user.pos.column), (2, 7));
}

#[test]
fn used_variable_definitions_are_marked() {
    let m = parse("a = 1\nb = 2\nc: $a\n");
    assert!(m.entry("a").unwrap().used_as_variable);
    assert!(!m.entry("b").unwrap().used_as_variable);
    assert!(!m.entry("c").unwrap().used_as_variable);
}

#[test]
fn undefined_variable_is_an_error_naming_it_and_its_position() {
    let e = parse_err("port: 1\nx: $JUNCTION_TEST_SURELY_UNDEFINED_VAR\n");
    assert!(matches!(e, ConfigError::UndefinedVariable { .. }));
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{ORIGIN}:2:4: ")), "{msg}");
    assert!(msg.contains("$JUNCTION_TEST_SURELY_UNDEFINED_VAR"), "{msg}");
}

#[test]
fn a_variable_cannot_be_used_before_it_is_defined() {
    assert!(matches!(
        parse_err("x: $later_var_zz\nlater_var_zz = 1\n"),
        ConfigError::UndefinedVariable { .. }
    ));
}

#[test]
fn environment_variables_are_parsed_as_values() {
    std::env::set_var("JUNCTION_CFG_TEST_PORT", "4333");
    std::env::set_var("JUNCTION_CFG_TEST_LIST", "[a, b] # comment");
    std::env::set_var("JUNCTION_CFG_TEST_STR", "hello world");
    std::env::set_var("JUNCTION_CFG_TEST_EMPTY", "");
    let m = parse("p: $JUNCTION_CFG_TEST_PORT\nl: $JUNCTION_CFG_TEST_LIST\ne: $JUNCTION_CFG_TEST_EMPTY\n");
    assert_eq!(int(&m, "p"), 4333);
    assert_eq!(m.get("l").unwrap().as_array().unwrap().len(), 2);
    assert_eq!(string(&m, "e"), "");
    let p = m.get("p").unwrap();
    assert_eq!((p.pos.line, p.pos.column), (1, 4));
    // "hello world" is a value followed by more text.
    let e = parse_err("s: $JUNCTION_CFG_TEST_STR\n");
    assert!(matches!(e, ConfigError::BadEnvVariable { .. }), "{e}");
    assert!(e.to_string().contains("JUNCTION_CFG_TEST_STR"), "{e}");
}

#[test]
fn environment_variable_reference_cycles_are_errors() {
    std::env::set_var("JUNCTION_CFG_TEST_CYCLE_A", "$JUNCTION_CFG_TEST_CYCLE_B");
    std::env::set_var("JUNCTION_CFG_TEST_CYCLE_B", "$JUNCTION_CFG_TEST_CYCLE_A");
    let e = parse_err("x: $JUNCTION_CFG_TEST_CYCLE_A\n");
    assert!(e.to_string().contains("refers to itself"), "{e}");
    assert!(e.to_string().starts_with(&format!("{ORIGIN}:1:4: ")), "{e}");
}

#[test]
fn a_bare_bcrypt_hash_is_a_string_not_a_variable() {
    let m = parse("password: $2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG\n");
    assert_eq!(
        string(&m, "password"),
        "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"
    );
}

#[test]
fn quoted_strings_are_not_variables_or_booleans() {
    let m = parse("a: \"$nope\"\nb: '$nope'\nc: \"yes\"\n");
    assert_eq!(string(&m, "a"), "$nope");
    assert_eq!(string(&m, "b"), "$nope");
    assert_eq!(string(&m, "c"), "yes");
}

// ----- includes -----

#[test]
fn include_merges_a_file_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(dir.path(), "sub/auth.conf", "user: bob\ninclude more.conf\n");
    write(dir.path(), "sub/more.conf", "password: pw\n");
    write(dir.path(), "limits.conf", "max_payload: 2MB\nport: 1\n");
    let main = write(
        dir.path(),
        "main.conf",
        "port: 7\ninclude limits.conf\nINCLUDE 'limits.conf' ; debug: true\nauthorization {\n  include \"sub/auth.conf\"\n}\n",
    );
    let m = load_file(&main).unwrap();
    assert_eq!(int(&m, "max_payload"), 2 << 20);
    assert_eq!(
        int(&m, "port"),
        1,
        "the included file's later value replaces the earlier one"
    );
    assert_eq!(m.get("debug").unwrap().as_bool(), Some(true));
    let auth = m.get("authorization").unwrap().as_map().unwrap();
    assert_eq!(string(auth, "user"), "bob");
    assert_eq!(string(auth, "password"), "pw");
    let port = m.entry("port").unwrap();
    assert_eq!(&*port.key_pos.file, dir.path().join("limits.conf").as_path());
}

#[test]
fn included_variables_are_visible_after_the_include() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "vars.conf", "PORT_VAR = 4555\n");
    let main = write(dir.path(), "main.conf", "include vars.conf\nport: $PORT_VAR\n");
    let o = load_options(&main).unwrap();
    assert_eq!(o.port, 4555);
}

#[test]
fn a_missing_include_is_an_error_naming_the_include_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "main.conf", "port: 1\ninclude \"nothere.conf\"\n");
    let e = load_file(&main).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ConfigError::Include { .. }), "{msg}");
    assert!(msg.starts_with(&format!("{}:2:9: ", main.display())), "{msg}");
    assert!(msg.contains("nothere.conf"), "{msg}");
}

#[test]
fn errors_inside_an_included_file_point_into_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "bad.conf", "a: 1\nb: [1 2]\n");
    let main = write(dir.path(), "main.conf", "include bad.conf\n");
    let msg = load_file(&main).unwrap_err().to_string();
    assert!(msg.contains(&format!("{}:2:7: ", inc.display())), "{msg}");

    write(dir.path(), "unknown.conf", "bogus_key: 1\n");
    let main = write(dir.path(), "main2.conf", "port: 1\ninclude unknown.conf\n");
    let msg = load_options(&main).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}:1:1: unknown field \"bogus_key\"",
            dir.path().join("unknown.conf").display()
        )
    );
}

#[test]
fn include_cycles_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.conf", "include b.conf\n");
    write(dir.path(), "b.conf", "include a.conf\n");
    let msg = load_file(&dir.path().join("a.conf")).unwrap_err().to_string();
    assert!(msg.contains("include cycle"), "{msg}");
    let selfish = write(dir.path(), "self.conf", "x: 1\ninclude self.conf\n");
    assert!(load_file(&selfish)
        .unwrap_err()
        .to_string()
        .contains("include cycle"));
}

#[test]
fn include_needs_a_file_name() {
    assert_syntax("include \n", 1, 9, "expected a file name after include");
    assert_syntax("include {a: 1}\n", 1, 9, "expected a file name");
    assert_syntax("include \"x.conf\n", 1, 9, "end of file");
}

#[test]
fn include_followed_by_a_separator_is_an_ordinary_key() {
    let m = parse("include: 1\n");
    assert_eq!(int(&m, "include"), 1);
    let e = opts_err("include: 1\n");
    assert!(matches!(e, ConfigError::UnknownField { .. }), "{e}");
}

// ----- syntax errors -----

#[test]
fn syntax_errors_show_file_line_and_column() {
    let e = parse_err("port: 4222\nhost: [1,\n");
    assert_eq!(
        e.to_string(),
        format!("{ORIGIN}:2:7: unexpected end of file: this '[' is never closed")
    );
    let pos = e.pos().unwrap();
    assert_eq!((pos.line, pos.column), (2, 7));
}

#[test]
fn a_key_without_a_value_is_an_error() {
    assert_syntax("port:\n", 1, 6, "expected a value, found end of line");
    assert_syntax("port: ", 1, 7, "expected a value, found end of file");
    assert_syntax("port", 1, 5, "expected a value, found end of file");
    assert_syntax("a { b: }", 1, 8, "expected a value, found '}'");
    assert_syntax("a: # comment\n", 1, 4, "found a comment");
}

#[test]
fn unterminated_maps_arrays_strings_and_blocks_are_errors() {
    assert_syntax("a {\n b: 1\n", 1, 3, "'{' is never closed");
    assert_syntax("a [1,\n 2\n", 1, 3, "'[' is never closed");
    assert_syntax("x: 1\na: \"abc\n", 2, 4, "end of file in a quoted string");
    assert_syntax("a: 'abc", 1, 4, "end of file in a quoted string");
    assert_syntax("a: (\nabc\n )\n", 1, 4, "block string");
    assert_syntax("\"key", 1, 1, "end of file in a quoted key");
    assert_syntax("{\na: 1\n", 3, 1, "never closed");
}

#[test]
fn an_invalid_escape_is_an_error_at_the_backslash() {
    assert_syntax("x: \"a\\qb\"", 1, 6, "invalid escape '\\q'");
    assert_syntax("x: a\\qb", 1, 5, "invalid escape");
    assert_syntax("x: \"\\xZ1\"", 1, 5, "two hexadecimal digits");
    assert_syntax("x: \"\\x4\n\"", 1, 5, "found end of line");
    assert_syntax("x: \"\\xff\"", 1, 4, "not valid UTF-8");
}

#[test]
fn text_after_a_value_is_an_error() {
    assert_syntax(
        "a: 1 2\n",
        1,
        6,
        "expected a new line, ',' or ';' after a value, found '2'",
    );
    assert_syntax("a: \"x\"y\n", 1, 7, "found 'y'");
    assert_syntax("a { b: 1 c: 2 }\n", 1, 10, "found 'c'");
    assert_syntax("a: {b: 1} c: 2\n", 1, 11, "found 'c'");
}

#[test]
fn misplaced_punctuation_is_an_error() {
    assert_syntax("a: 1\n}\n", 2, 1, "unexpected '}'");
    assert_syntax(": 1\n", 1, 1, "expected a key, found ':'");
    assert_syntax("a: 1;;\n", 1, 6, "expected a key, found ';'");
    assert_syntax(
        "a: [1 2]\n",
        1,
        7,
        "expected ',' or ']' after an array value, found '2'",
    );
    assert_syntax("a: [, 1]\n", 1, 5, "unexpected ','");
    assert_syntax("a: [1,, 2]\n", 1, 7, "unexpected ','");
    assert_syntax("a { ] }\n", 1, 5, "expected a key, found ']'");
}

#[test]
fn malformed_numbers_are_errors() {
    assert_syntax("a: 99999999999999999999\n", 1, 4, "out of range");
    assert_syntax("a: 16eb\n", 1, 4, "out of range");
    assert_syntax("a: 1kbb\n", 1, 4, "invalid size suffix 'kbb'");
    assert_syntax("a: .5\n", 1, 4, "must start with a digit");
    assert_syntax("a: -.5\n", 1, 4, "must start with a digit");
    assert_syntax("a: -x\n", 1, 4, "expected a digit after '-', found 'x'");
    assert_syntax("a: -\n", 1, 4, "expected a digit after '-'");
}

#[test]
fn malformed_datetimes_are_errors() {
    assert_syntax("a: 2024-01-01\n", 1, 4, "YYYY-MM-DDTHH:MM:SSZ");
    assert_syntax("a: 2024-01-01T00:00:00\n", 1, 4, "YYYY-MM-DDTHH:MM:SSZ");
    assert_syntax("a: 2023-02-29T00:00:00Z\n", 1, 4, "day out of range");
    assert_syntax("a: 2023-13-01T00:00:00Z\n", 1, 4, "month out of range");
    assert_syntax("a: 2023-01-01T24:00:00Z\n", 1, 4, "time of day out of range");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("a: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let msg = parse_err(&deep).to_string();
    assert!(msg.contains("nested more than"), "{msg}");
    let deep_maps = format!("a {}", "{b ".repeat(10_000));
    assert!(parse_err(&deep_maps).to_string().contains("nested more than"));
}

#[test]
fn a_file_that_is_not_utf8_is_an_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin.conf");
    std::fs::write(&path, b"port: 1\nhost: \"a\xffb\"\n").unwrap();
    let msg = load_file(&path).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!("{}:2:9: the file is not valid UTF-8 here", path.display())
    );
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let e = load_file(Path::new("/nonexistent/junction.conf")).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(
        e.to_string()
            .starts_with("error opening config file /nonexistent/junction.conf: "),
        "{e}"
    );
    assert!(e.pos().is_none());
}

#[test]
fn parsing_never_panics_on_truncated_or_mangled_input() {
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/junction.conf")).unwrap();
    let tricky = "a = 1\nb { c: [1, {d: $a}, \"x\\x41\", 'y', (\nblock\n)\n] }\ninclude nope.conf\nt: 2024-01-01T00:00:00Z\n";
    for text in [sample.as_str(), tricky] {
        let chars: Vec<char> = text.chars().collect();
        for cut in 0..=chars.len() {
            let prefix: String = chars[..cut].iter().collect();
            if let Ok(m) = parse_str(&prefix, Path::new("/tmp/none/x.conf")) {
                let _ = apply(&mut Options::default(), &m);
            }
            // Drop one character instead of cutting.
            if cut < chars.len() {
                let mut dropped = chars.clone();
                dropped.remove(cut);
                let dropped: String = dropped.into_iter().collect();
                if let Ok(m) = parse_str(&dropped, Path::new("/tmp/none/x.conf")) {
                    let _ = apply(&mut Options::default(), &m);
                }
            }
        }
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parsing_and_applying_never_panic(text in "[a-z0-9 \\t\\n\\r:=;,{}\\[\\]()\"'#/$.\\\\x-]{0,80}") {
            if let Ok(m) = parse_str(&text, Path::new("/tmp/none/x.conf")) {
                let _ = apply(&mut Options::default(), &m);
            }
        }

        #[test]
        fn arbitrary_unicode_never_panics(text in "\\PC{0,60}") {
            let _ = parse_str(&text, Path::new("x.conf"));
        }
    }
}

// ----- units -----

#[test]
fn go_durations_parse_like_time_parse_duration() {
    let ok: &[(&str, i128)] = &[
        ("0", 0),
        ("2s", 2_000_000_000),
        ("1m", 60_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("500ms", 500_000_000),
        ("1.5s", 1_500_000_000),
        (".5s", 500_000_000),
        ("1us", 1_000),
        ("1\u{b5}s", 1_000),
        ("1\u{3bc}s", 1_000),
        ("3ns", 3),
        ("-2s", -2_000_000_000),
        ("+2s", 2_000_000_000),
        ("1h1m1s1ms", 3_661_001_000_000),
    ];
    for (text, want) in ok {
        assert_eq!(parse_duration(text), Ok(*want), "{text}");
    }
    for bad in [
        "",
        "s",
        "2",
        "2x",
        "1.s.",
        "--1s",
        "9999999999999999h",
        "1 s",
        ".",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
    }
    assert!(parse_duration("2").unwrap_err().contains("missing unit"));
    assert!(parse_duration("2x").unwrap_err().contains("unknown unit \"x\""));
}

#[test]
fn storage_size_strings_take_k_m_g_t_suffixes() {
    assert_eq!(parse_storage_size(""), Ok(0));
    assert_eq!(parse_storage_size("1K"), Ok(1024));
    assert_eq!(parse_storage_size("2M"), Ok(2 << 20));
    assert_eq!(parse_storage_size("3G"), Ok(3 << 30));
    assert_eq!(parse_storage_size("1T"), Ok(1 << 40));
    assert!(parse_storage_size("1k").is_err());
    assert!(parse_storage_size("1X").unwrap_err().contains("K, M, G or T"));
    assert!(parse_storage_size("G").is_err());
    assert!(parse_storage_size("99999999999T").is_err());
}

#[test]
fn host_port_splitting_handles_ipv6_and_empty_hosts() {
    assert_eq!(split_host_port("127.0.0.1:4222"), Ok(("127.0.0.1", "4222")));
    assert_eq!(split_host_port(":4222"), Ok(("", "4222")));
    assert_eq!(split_host_port("[::1]:4222"), Ok(("::1", "4222")));
    assert_eq!(split_host_port("localhost:-1"), Ok(("localhost", "-1")));
    assert!(split_host_port("localhost").unwrap_err().contains("missing port"));
    assert!(split_host_port("::1:4222")
        .unwrap_err()
        .contains("too many colons"));
    assert!(split_host_port("[::1]4222").is_err());
    assert!(split_host_port("[::1:4222").is_err());
}

// ----- mapping onto Options -----

#[test]
fn an_empty_file_keeps_the_defaults() {
    assert_eq!(opts(""), Options::default());
    assert_eq!(opts("# only a comment\n"), Options::default());
}

#[test]
fn listen_sets_host_and_port() {
    let o = opts("listen: \"127.0.0.1:4333\"");
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4333));
    let o = opts("listen: 127.0.0.1:4334");
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4334));
    let o = opts("listen: 4335");
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 4335));
    let o = opts("listen: \"[::1]:4336\"");
    assert_eq!((o.host.as_str(), o.port), ("::1", 4336));
    let o = opts("listen: \":4337\"");
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 4337));
    let o = opts("listen: \"localhost:-1\"");
    assert_eq!((o.host.as_str(), o.port), ("localhost", 0));
}

#[test]
fn listen_rejects_malformed_addresses() {
    let e = opts_err("listen: localhost\n");
    assert_eq!(
        e.to_string(),
        format!("{ORIGIN}:1:1: invalid value for \"listen\": missing port in address \"localhost\"")
    );
    assert!(opts_err("listen: \"host:abc\"")
        .to_string()
        .contains("could not parse port \"abc\""));
    assert!(opts_err("listen: [1]")
        .to_string()
        .contains("expects a port or \"host:port\", got an array"));
}

#[test]
fn port_minus_one_means_random_and_zero_means_default() {
    assert_eq!(opts("port: -1").port, 0);
    assert_eq!(opts("port: 0").port, 4222);
    assert_eq!(opts("port: 65535").port, 65535);
    assert!(opts_err("port: 65536").to_string().contains("out of range"));
    assert!(opts_err("port: -2").to_string().contains("out of range"));
}

#[test]
fn host_and_net_are_aliases() {
    assert_eq!(opts("host: 127.0.0.1").host, "127.0.0.1");
    assert_eq!(opts("net: \"10.0.0.1\"").host, "10.0.0.1");
}

#[test]
fn server_name_and_client_advertise_are_strings() {
    let o = opts("server_name: n1\nclient_advertise: \"nats.example.com:4222\"");
    assert_eq!(o.server_name.as_deref(), Some("n1"));
    assert_eq!(o.client_advertise.as_deref(), Some("nats.example.com:4222"));
    assert!(opts_err("server_name: \"a b\"")
        .to_string()
        .contains("cannot contain spaces"));
}

#[test]
fn http_and_http_port_and_monitor_port_set_monitoring() {
    let o = opts("http: \"127.0.0.1:8222\"");
    assert_eq!(
        (o.http_host.as_deref(), o.http_port),
        (Some("127.0.0.1"), Some(8222))
    );
    let o = opts("http: 8223");
    assert_eq!((o.http_host, o.http_port), (None, Some(8223)));
    assert_eq!(opts("http_port: 8224").http_port, Some(8224));
    assert_eq!(opts("monitor_port: 8225").http_port, Some(8225));
    assert_eq!(opts("http_port: 0").http_port, None);
    // -1 is a random port, as in nats-server.
    assert_eq!(opts("http_port: -1").http_port, Some(0));
    assert!(opts_err("http_port: 70000").to_string().contains("out of range"));
    assert!(opts_err("http_port: -2").to_string().contains("out of range"));
}

#[test]
fn https_and_https_port_set_tls_monitoring() {
    let o = opts("https: \"127.0.0.1:8443\"");
    assert_eq!(
        (o.http_host.as_deref(), o.http_port, o.https_port),
        (Some("127.0.0.1"), None, Some(8443))
    );
    assert_eq!(opts("https_port: 8444").https_port, Some(8444));
    assert_eq!(opts("HTTPS_PORT: -1").https_port, Some(0));
    assert_eq!(opts("https: 0").https_port, None);
    assert_eq!(opts("http_base_path: \"/nats\"").http_base_path, "/nats");
}

#[test]
fn size_limits_take_suffixes_and_zero_means_default() {
    let o = opts("max_payload: 2MB\nmax_control_line: 8kb\nmax_pending: 128mb\n");
    assert_eq!(
        (o.max_payload, o.max_control_line, o.max_pending),
        (2 << 20, 8 << 10, 128 << 20)
    );
    let d = Options::default();
    let o = opts("max_payload: 0\nmax_control_line: 0\nmax_pending: 0\n");
    assert_eq!(
        (o.max_payload, o.max_control_line, o.max_pending),
        (d.max_payload, d.max_control_line, d.max_pending)
    );
    assert!(opts_err("max_payload: 3gb").to_string().contains("too big"));
    assert!(opts_err("max_control_line: -1").to_string().contains("negative"));
    let e = opts_err("max_payload: \"1MB\"");
    assert_eq!(
        e.to_string(),
        format!("{ORIGIN}:1:1: \"max_payload\" expects an integer, got a string")
    );
}

#[test]
fn connection_and_subscription_limits_have_aliases() {
    let o = opts("max_connections: 100\nmax_subscriptions: 10\n");
    assert_eq!((o.max_connections, o.max_subscriptions), (100, 10));
    let o = opts("max_conn: 101\nmax_subs: 11\n");
    assert_eq!((o.max_connections, o.max_subscriptions), (101, 11));
    assert!(opts_err("max_conn: -5").to_string().contains("negative"));
}

#[test]
fn durations_take_strings_or_integer_seconds() {
    let o = opts("write_deadline: \"2s\"\nping_interval: \"1h30m\"\nping_max: 5\n");
    assert_eq!(o.write_deadline, Duration::from_secs(2));
    assert_eq!(o.ping_interval, Duration::from_secs(5400));
    assert_eq!(o.ping_max, 5);
    let o = opts("write_deadline: 3\nping_interval: 500ms\n");
    assert_eq!(o.write_deadline, Duration::from_secs(3));
    assert_eq!(o.ping_interval, Duration::from_millis(500));
    // A bare 2m is the integer 2,000,000 (m = mega), so 2,000,000 seconds, as in nats-server.
    assert_eq!(
        opts("ping_interval: 2m").ping_interval,
        Duration::from_secs(2_000_000)
    );
    let d = Options::default();
    let o = opts("write_deadline: 0\nping_interval: \"0s\"\nping_max: 0\n");
    assert_eq!(
        (o.write_deadline, o.ping_interval, o.ping_max),
        (d.write_deadline, d.ping_interval, d.ping_max)
    );
}

#[test]
fn bad_durations_are_errors_naming_the_key() {
    let e = opts_err("write_deadline: \"2x\"");
    assert_eq!(
        e.to_string(),
        format!("{ORIGIN}:1:1: invalid value for \"write_deadline\": unknown unit \"x\" in duration \"2x\"")
    );
    assert!(opts_err("ping_interval: \"-1s\"")
        .to_string()
        .contains("negative"));
    assert!(opts_err("ping_interval: -1").to_string().contains("negative"));
    assert!(opts_err("ping_interval: 1.5")
        .to_string()
        .contains("expects a duration"));
    assert!(opts_err("ping_max: 5000000000").to_string().contains("too big"));
}

#[test]
fn lame_duck_settings_take_duration_strings() {
    let o = opts("lame_duck_duration: \"45s\"\nlame_duck_grace_period: 5s\n");
    assert_eq!(
        (o.lame_duck_duration, o.lame_duck_grace_period),
        (Duration::from_secs(45), Duration::from_secs(5))
    );
    assert!(opts_err("lame_duck_duration: 10s")
        .to_string()
        .contains("minimum is 30s"));
    let e = opts_err("lame_duck_duration: 40");
    assert!(matches!(e, ConfigError::WrongType { .. }), "{e}");
    assert_eq!(
        opts("lame_duck_grace_period: \"0s\"").lame_duck_grace_period,
        Duration::from_secs(10)
    );
}

#[test]
fn authorization_sets_user_password_token_and_timeout() {
    let o = opts("authorization { user: alice, password: \"s3cret\", timeout: 3 }");
    assert_eq!(
        (o.username.as_deref(), o.password.as_deref()),
        (Some("alice"), Some("s3cret"))
    );
    assert_eq!(o.auth_timeout, Duration::from_secs(3));
    let o = opts("AUTHORIZATION { Username: bob\n Pass: pw\n Timeout: 0.5 }");
    assert_eq!(
        (o.username.as_deref(), o.password.as_deref()),
        (Some("bob"), Some("pw"))
    );
    assert_eq!(o.auth_timeout, Duration::from_millis(500));
    let o = opts("authorization { token: \"t0k\"\n timeout: \"1500ms\" }");
    assert_eq!(o.authorization.as_deref(), Some("t0k"));
    assert_eq!(o.auth_timeout, Duration::from_millis(1500));
    assert_eq!(
        opts("authorization { token: t, timeout: 0 }").auth_timeout,
        Options::default().auth_timeout
    );
}

#[test]
fn authorization_rejects_user_with_token_and_bad_values() {
    let e = opts_err("authorization {\n user: a\n token: b\n}");
    assert!(
        e.to_string()
            .contains("a user/password and a token cannot both be set"),
        "{e}"
    );
    assert!(e.to_string().starts_with(&format!("{ORIGIN}:1:1: ")), "{e}");
    assert!(opts_err("authorization: 5")
        .to_string()
        .contains("\"authorization\" expects a map, got an integer"));
    assert!(opts_err("authorization { timeout: -1 }")
        .to_string()
        .contains("negative"));
    assert!(opts_err("authorization { timeout: true }")
        .to_string()
        .contains("expects a number of seconds"));
    assert!(opts_err("authorization { user: 5 }")
        .to_string()
        .contains("\"user\" expects a string, got an integer"));
}

#[test]
fn unknown_keys_inside_blocks_are_errors() {
    let e = opts_err("authorization {\n  user: a\n  zzz: 1\n}");
    assert_eq!(e.to_string(), format!("{ORIGIN}:3:3: unknown field \"zzz\""));
    // A block-local variable that is used is not an unknown field.
    let o = opts("authorization { t = 2s\n timeout = $t }");
    assert_eq!(o.auth_timeout, Duration::from_secs(2));
}

#[test]
fn no_auth_user_and_file_paths_map_with_aliases() {
    let o = opts(
        "no_auth_user: guest\nlog_file: /var/log/j.log\npid_file: \"/run/j.pid\"\nports_file_dir: /run\n",
    );
    assert_eq!(o.no_auth_user.as_deref(), Some("guest"));
    assert_eq!(o.log_file, Some(PathBuf::from("/var/log/j.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("/run/j.pid")));
    assert_eq!(o.ports_file_dir, Some(PathBuf::from("/run")));
    let o = opts("logfile: a.log\npidfile: a.pid\n");
    assert_eq!(o.log_file, Some(PathBuf::from("a.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("a.pid")));
}

#[test]
fn debug_trace_and_logtime_are_booleans() {
    let o = opts("debug: yes\ntrace: on\nlogtime: false\n");
    assert!(o.debug && o.trace && !o.logtime);
    let e = opts_err("debug: \"true\"");
    assert_eq!(
        e.to_string(),
        format!("{ORIGIN}:1:1: \"debug\" expects a boolean, got a string")
    );
}

#[test]
fn jetstream_takes_a_boolean_a_word_or_a_block() {
    assert!(opts("jetstream: true").jetstream);
    assert!(opts("jetstream: enabled").jetstream);
    assert!(opts("jetstream: \"Enable\"").jetstream);
    assert!(!opts("jetstream: disabled").jetstream);
    assert!(!opts("jetstream: off").jetstream);
    assert!(opts("jetstream {}").jetstream);
    let o = opts("jetstream { store_dir: \"/data/js\", max_mem: 1G, max_file: \"10G\" }");
    assert!(o.jetstream);
    assert_eq!(o.store_dir, Some(PathBuf::from("/data/js")));
    let o = opts("jetstream { enabled: false\n storedir: /x\n max_memory_store: 1gb\n max_file_store: 0 }");
    assert!(!o.jetstream);
    assert_eq!(o.store_dir, Some(PathBuf::from("/x")));
    assert!(opts("jetstream { store: /y }").store_dir.is_some());
}

#[test]
fn jetstream_rejects_bad_values_and_unsupported_keys() {
    assert!(opts_err("jetstream: maybe")
        .to_string()
        .contains("expected \"enabled\" or \"disabled\""));
    assert!(opts_err("jetstream: 1")
        .to_string()
        .contains("expects true/false"));
    assert!(opts_err("jetstream { max_mem: \"1X\" }")
        .to_string()
        .contains("must end in K, M, G or T"));
    assert!(opts_err("jetstream { max_file: true }")
        .to_string()
        .contains("expects a size"));
    assert_eq!(
        opts("jetstream {\n domain: hub\n}").js_domain.as_deref(),
        Some("hub")
    );
    let e = opts_err("jetstream {\n domain: a.b\n}");
    assert!(e.to_string().starts_with(&format!("{ORIGIN}:2:2: ")), "{e}");
    assert!(
        e.to_string()
            .contains("invalid domain name: may not contain ., * or >"),
        "{e}"
    );
    let e = opts_err("jetstream {\n domain: \"a b\"\n}");
    assert!(e.to_string().contains("is not a valid subject"), "{e}");
    assert!(opts("jetstream {\n domain: hub\n}").js_strict);
    assert!(!opts("jetstream {\n strict: false\n}").js_strict);
    let e = opts_err("jetstream {\n tpm: {}\n}");
    assert_eq!(
        e.to_string(),
        format!("{ORIGIN}:2:2: \"jetstream.tpm\" is not supported by junction yet")
    );
    assert!(matches!(
        opts_err("jetstream { nope: 1 }"),
        ConfigError::UnknownField { .. }
    ));
}

#[test]
fn jetstream_sync_interval_takes_a_duration_or_always() {
    assert_eq!(
        opts("jetstream { sync_interval: \"10s\" }").sync_interval,
        Some(Duration::from_secs(10))
    );
    assert_eq!(opts("jetstream { sync_interval: always }").sync_interval, None);
    assert_eq!(
        opts("jetstream: enabled").sync_interval,
        Some(Duration::from_secs(120))
    );
    assert!(opts_err("jetstream { sync_interval: \"soon\" }")
        .to_string()
        .contains("sync_interval"));
}

#[test]
fn store_dir_may_be_given_only_once() {
    assert_eq!(opts("store_dir: /a").store_dir, Some(PathBuf::from("/a")));
    assert_eq!(opts("storedir: /b").store_dir, Some(PathBuf::from("/b")));
    let e = opts_err("store_dir: /a\njetstream { store_dir: /b }\n");
    assert!(e.to_string().starts_with(&format!("{ORIGIN}:2:13: ")), "{e}");
    assert!(e.to_string().contains("more than once"), "{e}");
}

#[test]
fn option_keys_are_case_insensitive() {
    let o = opts("PORT: 4999\nDebug: true\nMax_Payload: 1kb\nJetStream { Store_Dir: /z }\n");
    assert_eq!(o.port, 4999);
    assert!(o.debug);
    assert_eq!(o.max_payload, 1024);
    assert_eq!(o.store_dir, Some(PathBuf::from("/z")));
}

#[test]
fn unknown_top_level_key_is_an_error_naming_it_and_its_position() {
    let e = opts_err("port: 4222\n  foo: 1\n");
    assert!(matches!(e, ConfigError::UnknownField { .. }));
    assert_eq!(e.to_string(), format!("{ORIGIN}:2:3: unknown field \"foo\""));
}

#[test]
fn used_variable_definitions_are_not_unknown_fields_but_unused_ones_are() {
    let o = opts("the_port = 4777\nport: $the_port\n");
    assert_eq!(o.port, 4777);
    let e = opts_err("unused_var = 1\nport: 1\n");
    assert_eq!(
        e.to_string(),
        format!("{ORIGIN}:1:1: unknown field \"unused_var\"")
    );
}

#[test]
fn nats_keys_junction_lacks_are_reported_as_unsupported() {
    for key in ["leaf", "resolver_tls", "resolver_pinned_accounts", "Resolver_TLS"] {
        let e = opts_err(&format!("port: 1\n{key} {{ a: 1 }}\n"));
        assert!(matches!(e, ConfigError::Unsupported { .. }), "{key}: {e}");
        assert_eq!(
            e.to_string(),
            format!("{ORIGIN}:2:1: \"{key}\" is not supported by junction yet")
        );
    }
}

#[test]
fn all_errors_of_a_file_are_reported_together_in_order() {
    let e = opts_err("foo: 1\nport: \"x\"\nleaf {}\nauthorization { a: 1, b: 2 }\n");
    let ConfigError::Multiple(list) = &e else {
        panic!("expected several errors, got {e}")
    };
    assert_eq!(list.len(), 5);
    let lines: Vec<String> = e.to_string().lines().map(String::from).collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].ends_with("unknown field \"foo\""));
    assert!(lines[1].contains("\"port\" expects an integer"));
    assert!(lines[2].contains("\"leaf\" is not supported"));
    assert!(lines[3].contains(":4:17: unknown field \"a\""), "{}", lines[3]);
    assert!(lines[4].contains(":4:23: unknown field \"b\""), "{}", lines[4]);
    assert_eq!(e.errors().len(), 5);
}

#[test]
fn apply_overrides_only_the_keys_present() {
    let mut o = Options {
        port: 5000,
        debug: true,
        ..Options::default()
    };
    apply(&mut o, &parse("trace: true")).unwrap();
    assert_eq!((o.port, o.debug, o.trace), (5000, true, true));
}

#[test]
fn load_options_applies_a_file_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "j.conf", "port: 4888\nauthorization { token: abc }\n");
    let o = load_options(&path).unwrap();
    assert_eq!(o.port, 4888);
    assert_eq!(o.authorization.as_deref(), Some("abc"));
    assert_eq!(o.max_payload, Options::default().max_payload);
    let bad = write(dir.path(), "bad.conf", "port: 1\nbogus: 2\n");
    let msg = load_options(&bad).unwrap_err().to_string();
    assert_eq!(msg, format!("{}:2:1: unknown field \"bogus\"", bad.display()));
}

// ----- the example files -----

fn example_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
}

#[test]
fn every_example_config_file_loads() {
    let mut count = 0;
    for entry in std::fs::read_dir(example_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("conf") {
            continue;
        }
        load_options(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        count += 1;
    }
    assert!(count >= 4, "only {count} example files found");
}

#[test]
fn example_files_hold_the_documented_values() {
    let dir = example_dir();
    let o = load_options(&dir.join("junction.conf")).unwrap();
    assert_eq!(o.port, 4222);
    assert_eq!(o.server_name.as_deref(), Some("junction-1"));
    assert_eq!(o.http_port, Some(8222));
    assert_eq!(o.max_payload, 1 << 20);
    assert_eq!(o.ping_interval, Duration::from_secs(120));
    assert!(!o.jetstream);
    assert_eq!(o.store_dir, Some(PathBuf::from("/var/lib/junction/jetstream")));

    let o = load_options(&dir.join("auth-token.conf")).unwrap();
    assert_eq!(o.authorization.as_deref(), Some("s3cr3t-t0ken"));
    assert_eq!(o.auth_timeout, Duration::from_millis(1500));

    let o = load_options(&dir.join("auth-users.conf")).unwrap();
    assert_eq!(
        (o.users[0].username.as_deref(), o.users[0].password.as_deref()),
        (Some("app"), Some("s3cr3t"))
    );

    let o = load_options(&dir.join("with-include.conf")).unwrap();
    assert_eq!(o.max_connections, 10_000);
    assert_eq!(o.server_name.as_deref(), Some("junction-with-include"));

    assert_eq!(
        load_options(&dir.join("minimal.conf")).unwrap(),
        Options::default()
    );

    let o = load_options(&dir.join("supercluster.conf")).unwrap();
    let g = o.gateway.expect("gateway");
    assert_eq!((g.name.as_str(), g.port), ("east", 7222));
    assert_eq!(g.gateways[0].urls.len(), 2);
    assert_eq!(o.cluster.unwrap().routes.len(), 2);
}

#[test]
fn mqtt_block_maps_nats_server_keys_and_needs_jetstream() {
    let o = opts(
        "jetstream: enabled\nmqtt {\n listen: \"127.0.0.1:-1\"\n ack_wait: \"5s\"\n max_ack_pending: 100\n js_domain: hub\n stream_replicas: 1\n consumer_inactive_threshold: \"1h\"\n receive_maximum: 20\n authorization { username: dev, password: pw, timeout: 2.5 }\n}",
    );
    let m = o.mqtt.unwrap();
    assert_eq!((m.host.as_str(), m.port), ("127.0.0.1", 0));
    assert_eq!((m.ack_wait, m.max_ack_pending), (Duration::from_secs(5), 100));
    assert_eq!(m.js_domain.as_deref(), Some("hub"));
    assert_eq!(
        (m.auth.username.as_deref(), m.auth.password.as_deref()),
        (Some("dev"), Some("pw"))
    );
    assert_eq!(m.auth.timeout, Some(Duration::from_millis(2500)));
    assert_eq!(m.consumer_inactive_threshold, Some(Duration::from_secs(3600)));
    assert_eq!(m.receive_maximum, 20);
    let e = opts_err("jetstream: enabled\nmqtt {\n port: 1883\n receive_maximum: 0\n}");
    assert!(e.to_string().contains("should be in [1..65535] range"), "{e}");
    // No port, or port 0: MQTT stays off, as in nats-server.
    assert!(opts("jetstream: enabled\nmqtt { host: 127.0.0.1 }")
        .mqtt
        .is_none());
    assert_eq!(
        opts("jetstream: enabled\nmqtt { port: 1883 }").mqtt.unwrap().port,
        1883
    );
    // That MQTT needs JetStream is a rule over the merged options: `-js`
    // may satisfy it (`Options::check_merged`).
    assert_eq!(
        opts("mqtt {\n port: 1883\n}").check_merged().unwrap_err(),
        "mqtt requires JetStream to be enabled if running in standalone mode"
    );
    assert!(opts("jetstream: enabled\nmqtt { port: 1883 }")
        .check_merged()
        .is_ok());
    let e = opts_err("jetstream: enabled\nmqtt {\n port: 1883\n max_ack_pending: 70000\n}");
    assert!(e.to_string().starts_with(&format!("{ORIGIN}:4:2: ")), "{e}");
    let e = opts_err("jetstream: enabled\nmqtt {\n port: 1883\n bogus: 1\n}");
    assert!(e.to_string().contains("unknown field \"bogus\""), "{e}");
    let e = opts_err("jetstream: enabled\nauthorization { users: [{user: a, password: b}] }\nmqtt {\n port: 1883\n no_auth_user: zed\n}");
    assert!(e.to_string().contains("no_auth_user: \"zed\" not present"), "{e}");
}

#[test]
fn mappings_in_every_form() {
    use crate::mapping::MapDest;
    let o = opts(
        "mappings {\n  foo: bar\n  \"a.*\": [{dest: \"b.$1\", weight: 40%}, {destination: \"c.$1\", weight: \"60\"}]\n  one: {dest: two, weight: 80, cluster: east}\n}\naccounts { A: { maps: { x: y } } }",
    );
    assert_eq!(
        o.mappings,
        vec![
            ("foo".to_string(), vec![MapDest::new("bar", 100)]),
            (
                "a.*".to_string(),
                vec![MapDest::new("b.$1", 40), MapDest::new("c.$1", 60)]
            ),
            (
                "one".to_string(),
                vec![MapDest {
                    cluster: Some("east".into()),
                    ..MapDest::new("two", 80)
                }]
            ),
        ]
    );
    assert_eq!(
        o.accounts[0].mappings,
        vec![("x".to_string(), vec![MapDest::new("y", 100)])]
    );
}

#[test]
fn bad_mappings_are_named_with_their_place() {
    for (text, message) in [
        (
            "mappings {\n  \"foo.*\": \"bar.$2\"\n}",
            format!("{ORIGIN}:2:12: invalid value for \"foo.*\": Error adding mapping for \"foo.*\" to \"bar.$2\" : invalid mapping destination: wildcard index out of range in $2: [2]"),
        ),
        (
            "mappings { foo: [{dest: a, weight: 60}, {dest: b, weight: 50}] }",
            format!("{ORIGIN}:1:17: invalid value for \"foo\": Error adding mapping for \"foo\" : total weight needs to be <= 100"),
        ),
        (
            "mappings { foo: {dest: a} }",
            format!("{ORIGIN}:1:17: invalid value for \"foo\": Missing weight for mapping destination \"a\""),
        ),
        (
            "mappings { foo: {dest: a, weight: 101} }",
            format!("{ORIGIN}:1:35: invalid value for \"foo\": Invalid weight 101 for mapping destination"),
        ),
        (
            "mappings { foo: {dest: a, weight: 50, color: red} }",
            format!("{ORIGIN}:1:46: invalid value for \"foo\": Unknown field \"color\" for mapping destination"),
        ),
        (
            "mappings { \"foo..bar\": a }",
            format!("{ORIGIN}:1:24: invalid value for \"foo..bar\": Subject \"foo..bar\" is not a valid subject"),
        ),
    ] {
        assert_eq!(opts_err(text).to_string(), message, "{text}");
    }
}
