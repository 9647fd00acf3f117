//! The cases of nats-server's own transform tests, and its config runs.

use super::*;

fn apply(src: &str, dest: &str, subject: &str) -> String {
    let t = Transform::new(src, dest).unwrap_or_else(|e| panic!("{src} -> {dest}: {e}"));
    assert!(t.matches(subject), "{subject} does not match {src}");
    t.apply(subject)
}

#[test]
fn transforms_as_in_nats_server() {
    for (src, dest, subject, out) in [
        ("foo", "bar", "foo", "bar"),
        ("foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz", "req.B.A"),
        ("baz.>", "my.pre.>", "baz.1.2.3", "my.pre.1.2.3"),
        ("baz.>", "foo.bar.>", "baz.1.2.3", "foo.bar.1.2.3"),
        ("*", "foo.bar.$1", "foo", "foo.bar.foo"),
        ("*", "{{splitfromleft(1,3)}}", "12345", "123.45"),
        ("*", "{{SplitFromRight(1,3)}}", "12345", "12.345"),
        ("*", "{{SliceFromLeft(1,3)}}", "1234567890", "123.456.789.0"),
        ("*", "{{SliceFromRight(1,3)}}", "1234567890", "1.234.567.890"),
        ("*", "{{split(1,-)}}", "-abc-def--ghi-", "abc.def.ghi"),
        ("*", "{{split(1,-)}}", "abc-def--ghi-", "abc.def.ghi"),
        (
            "*.*",
            "{{split(2,-)}}.{{splitfromleft(1,2)}}",
            "foo.-abc-def--ghij-",
            "abc.def.ghij.fo.o",
        ),
        ("bar.*.*", "RAB.$2.$1", "bar.11.22", "RAB.22.11"),
        ("gt.*.>", "GT.$1.>", "gt.x.y.z", "GT.x.y.z"),
        ("wsp.*", "W.{{ wildcard( 1 ) }}", "wsp.q", "W.q"),
        ("sfl.*", "SFL.{{splitfromleft(1,3)}}", "sfl.12", "SFL.12"),
        // Partition is FNV-1a over the tokens without a separator (recorded from nats-server).
        ("p.*.*", "P.{{partition(10,1,2)}}.$1.$2", "p.1.2", "P.0.1.2"),
        ("p.*.*", "P.{{partition(10,1,2)}}.$1.$2", "p.a.b", "P.6.a.b"),
        ("p1.*", "P1.{{partition(7,1)}}", "p1.hello", "P1.2"),
        // A literal source takes its destination as written.
        ("lit", "$1", "lit", "$1"),
        // Quirks kept: $0 is the first token; a wildcard may be used twice.
        ("zero.*", "Z.$0", "zero.abc", "Z.zero"),
        ("dup.*.*", "D.$1.$1", "dup.a.b", "D.a.a"),
    ] {
        assert_eq!(apply(src, dest, subject), out, "{src} -> {dest} on {subject}");
    }
    // Spaces inside the braces, either case of the first letter; every
    // function or `$n` token counts once towards using the wildcards.
    assert_eq!(
        apply("p.*.*.*", "{{ Partition (10,1,2,3) }}.$1.$2.$3", "p.a.b.c"),
        apply("p.*.*.*", "{{partition(10,1,2,3)}}.$1.$2.$3", "p.a.b.c")
    );
    assert!(Transform::new("p.*.*.*", "{{partition(10,1,2,3)}}").is_err());
}

#[test]
fn bad_transforms_are_refused_with_nats_server_texts() {
    for (src, dest, err) in [
        ("foo.*.*", "bar.$2", "invalid mapping destination: not using all of the token wildcard(s) in bar.$2"),
        ("foo", "", "invalid mapping destination: invalid subject in "),
        ("foo..", "bar", "invalid subject"),
        ("foo.*", "bar.*", "invalid subject"),
        ("foo.*", "bar.$2", "invalid mapping destination: wildcard index out of range in $2: [2]"),
        ("foo.*", "bar.$1.>", "invalid subject"),
        ("foo.>", "bar.baz", "invalid subject"),
        ("foo.*", "foo.$foo", "invalid mapping destination: not using all of the token wildcard(s) in foo.$foo"),
        (
            "foo.*",
            "foo.{{wildcard(2)}}",
            "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]",
        ),
        ("foo.*", "foo.{{unimplemented(1)}}", "invalid mapping destination: unknown function in {{unimplemented(1)}}"),
        (
            "foo.*",
            "foo.{{partition(10)}}",
            "invalid mapping destination: not enough arguments passed to the function in {{partition(10)}}",
        ),
        (
            "foo.*",
            "foo.{{wildcard(foo)}}",
            "invalid mapping destination: function argument is invalid or in the wrong format in {{wildcard(foo)}}",
        ),
        (
            "foo.*",
            "foo.{{wildcard()}}",
            "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}",
        ),
        (
            "foo.*",
            "foo.{{wildcard(1,2)}}",
            "invalid mapping destination: too many arguments passed to the function in {{wildcard(1,2)}}",
        ),
        ("foo.*", "foo.{{ wildcard5) }}", "invalid mapping destination: unknown function in {{ wildcard5) }}"),
        ("foo.*", "foo.{{splitLeft(2,2}}", "invalid mapping destination: unknown function in {{splitLeft(2,2}}"),
        ("foo.*", "foo.{{WILDCARD(1)}}", "invalid mapping destination: unknown function in {{WILDCARD(1)}}"),
        ("foo", "bar. x", "invalid mapping destination: invalid subject"),
        (
            "foo.*",
            "{{partition(0,1)}}",
            "invalid mapping destination: function argument is invalid or in the wrong format in {{partition(0,1)}}",
        ),
    ] {
        assert_eq!(
            Transform::new(src, dest).map(|_| ()).unwrap_err().to_string(),
            err,
            "{src} -> {dest}"
        );
    }
}

fn mappings(config: &[(&str, &[(&str, u8)])]) -> Result<Mappings, (String, MappingError)> {
    let config: MappingConfig = config
        .iter()
        .map(|(src, dests)| {
            (
                src.to_string(),
                dests.iter().map(|(d, w)| MapDest::new(*d, *w)).collect(),
            )
        })
        .collect();
    Mappings::new(&config)
}

#[test]
fn the_first_matching_source_decides_and_nothing_is_mapped_twice() {
    let m = mappings(&[
        ("c1", &[("c2", 100)]),
        ("c2", &[("c3", 100)]),
        ("a.*", &[("b.$1", 100)]),
    ])
    .unwrap();
    assert_eq!(m.map("c1"), Mapped::To("c2".into()));
    assert_eq!(m.map("a.x"), Mapped::To("b.x".into()));
    assert_eq!(m.map("a.x.y"), Mapped::Unchanged);
    assert_eq!(m.map("other"), Mapped::Unchanged);
}

#[test]
fn weights_split_the_traffic_and_the_rest_keeps_its_subject() {
    let m = mappings(&[("foo.*", &[("bar.v1.$1", 40), ("baz.v2.$1", 20)])]).unwrap();
    assert_eq!(
        m.to_json(),
        serde_json::json!({"foo.*": [
            {"subject": "baz.v2.$1", "weight": 20},
            {"subject": "bar.v1.$1", "weight": 60},
            {"subject": "foo.$1", "weight": 100},
        ]})
    );
    let mut counts = std::collections::HashMap::new();
    for _ in 0..3000 {
        match m.map("foo.7") {
            Mapped::To(s) => *counts.entry(s).or_insert(0) += 1,
            other => panic!("{other:?}"),
        }
    }
    // 40 / 20 / 40 percent, with room for chance.
    assert!((1000..1400).contains(&counts["bar.v1.7"]), "{counts:?}");
    assert!((450..750).contains(&counts["baz.v2.7"]), "{counts:?}");
    assert!((1000..1400).contains(&counts["foo.7"]), "{counts:?}");
}

#[test]
fn listing_the_source_itself_loses_the_rest() {
    let m = mappings(&[("loss", &[("loss", 0)])]).unwrap();
    assert_eq!(
        m.to_json(),
        serde_json::json!({"loss": [{"subject": "loss", "weight": 0}]})
    );
    assert_eq!(m.map("loss"), Mapped::Lost);
}

#[test]
fn weights_over_100_and_duplicates_are_refused() {
    let e = mappings(&[("foo", &[("a", 60), ("b", 50)])]).unwrap_err();
    assert_eq!(e.1.to_string(), "total weight needs to be <= 100");
    let e = mappings(&[("foo", &[("a", 50), ("a", 50)])]).unwrap_err();
    assert_eq!(e.1.to_string(), "duplicate entry for \"a\"");
}

#[test]
fn cluster_destinations_are_shown_but_not_used_outside_that_cluster() {
    let config: MappingConfig = vec![(
        "foo".into(),
        vec![
            MapDest {
                cluster: Some("SYN".into()),
                ..MapDest::new("bar", 50)
            },
            MapDest::new("baz", 30),
        ],
    )];
    let m = Mappings::new(&config).unwrap();
    assert_eq!(
        m.to_json(),
        serde_json::json!({"foo": [
            {"subject": "baz", "weight": 30},
            {"subject": "foo", "weight": 100},
            {"subject": "bar", "weight": 50, "cluster": "SYN"},
            {"subject": "foo", "weight": 100, "cluster": "SYN"},
        ]})
    );
    for _ in 0..200 {
        assert_ne!(m.map("foo"), Mapped::To("bar".into()));
    }
}
