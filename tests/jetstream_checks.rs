//! The JetStream API's configuration checks, request by request, against
//! the answers nats-server 2.15.1 gave to the same requests in the same
//! order (recorded with nats-py against the official binary): codes,
//! `err_code`s and texts, stream and consumer create and update, work-queue
//! consumers, strict reading of unknown fields, and what is accepted.

mod common;

use std::time::Duration;

use junction::Options;

/// (what, subject, request body, nats-server's error or `None` for success).
/// `{N256}` and `{D4097}` stand for a 256-character name and a
/// 4097-character description.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Option<(u16, u16, &'static str)>,
);

const CASES: &[Case] = &[
    ("create P", "$JS.API.STREAM.CREATE.P", "{\"name\": \"P\", \"subjects\": [\"p.>\"]}", None),
    ("lps no filter", "$JS.API.CONSUMER.CREATE.P", "{\"stream_name\": \"P\", \"config\": {\"deliver_policy\": \"last_per_subject\"}}", Some((400, 10094, "consumer delivery policy is deliver last per subject, but optional filter subject is not set"))),
    ("name+durable differ", "$JS.API.CONSUMER.CREATE.P.C1", "{\"stream_name\": \"P\", \"config\": {\"name\": \"C1\", \"durable_name\": \"C2\"}}", Some((400, 10017, "consumer name in subject does not match durable name in request"))),
    ("fc no hb", "$JS.API.CONSUMER.CREATE.P.C3", "{\"stream_name\": \"P\", \"config\": {\"name\": \"C3\", \"deliver_subject\": \"d.x\", \"flow_control\": true}}", Some((400, 10108, "consumer with flow control also needs heartbeats"))),
    ("unknown field", "$JS.API.CONSUMER.CREATE.P.C4", "{\"stream_name\": \"P\", \"config\": {\"name\": \"C4\", \"bogus\": 1}}", Some((400, 10025, "invalid JSON: json: unknown field \"bogus\""))),
    ("empty stream_name", "$JS.API.CONSUMER.CREATE.P.C5", "{\"config\": {\"name\": \"C5\"}}", Some((400, 10056, "stream name in subject does not match request"))),
    ("durable endpoint no durable", "$JS.API.CONSUMER.DURABLE.CREATE.P.C6", "{\"stream_name\": \"P\", \"config\": {}}", Some((400, 10018, "consumer expected to be durable but a durable name was not set"))),
    ("ephemeral w durable", "$JS.API.CONSUMER.CREATE.P", "{\"stream_name\": \"P\", \"config\": {\"durable_name\": \"X\"}}", Some((400, 10020, "consumer expected to be ephemeral but a durable name was set in request"))),
    ("filter subj mismatch", "$JS.API.CONSUMER.CREATE.P.C7.p.a", "{\"stream_name\": \"P\", \"config\": {\"name\": \"C7\"}}", Some((400, 10131, "Consumer create request did not match filtered subject from create subject"))),
    ("mirror_direct no mirror", "$JS.API.STREAM.CREATE.M", "{\"name\": \"M\", \"subjects\": [\"m\"], \"mirror_direct\": true}", Some((500, 10052, "stream has no mirror but does have mirror direct"))),
    ("stream no name", "$JS.API.STREAM.CREATE.N", "{\"subjects\": [\"n\"]}", Some((400, 10056, "stream name in subject does not match request"))),
    ("stream unknown", "$JS.API.STREAM.CREATE.U", "{\"name\": \"U\", \"subjects\": [\"u\"], \"foo\": 1}", Some((400, 10025, "invalid JSON: json: unknown field \"foo\""))),
    ("stream sealed", "$JS.API.STREAM.CREATE.S", "{\"name\": \"S\", \"subjects\": [\"s\"], \"sealed\": true}", Some((500, 10052, "stream configuration for create can not be sealed"))),
    ("dup subjects", "$JS.API.STREAM.CREATE.D", "{\"name\": \"D\", \"subjects\": [\"d1\", \"d1\"]}", Some((500, 10052, "subject \"d1\" overlaps with \"d1\""))),
    ("max_age small", "$JS.API.STREAM.CREATE.A", "{\"name\": \"A\", \"subjects\": [\"a1\"], \"max_age\": 1000}", Some((500, 10052, "max age needs to be >= 100ms"))),
    ("hb push small", "$JS.API.CONSUMER.CREATE.P.C8", "{\"stream_name\": \"P\", \"config\": {\"name\": \"C8\", \"deliver_subject\": \"d.y\", \"idle_heartbeat\": 1000}}", Some((400, 10083, "consumer idle heartbeat needs to be >= 100ms"))),
    ("backoff eq maxdeliver", "$JS.API.CONSUMER.CREATE.P.C9", "{\"stream_name\": \"P\", \"config\": {\"name\": \"C9\", \"ack_policy\": \"explicit\", \"max_deliver\": 2, \"backoff\": [1000000000, 2000000000]}}", None),
    ("replay bad", "$JS.API.CONSUMER.CREATE.P.C10", "{\"stream_name\": \"P\", \"config\": {\"name\": \"C10\", \"replay_policy\": \"foo\"}}", Some((400, 10025, "invalid JSON: can not unmarshal \"\\\"foo\\\"\""))),
    ("sample bad", "$JS.API.CONSUMER.CREATE.P.C11", "{\"stream_name\": \"P\", \"config\": {\"name\": \"C11\", \"sample_freq\": \"x%\"}}", Some((400, 10095, "failed to parse consumer sampling configuration: strconv.Atoi: parsing \"x\": invalid syntax"))),
    ("consumer limits", "$JS.API.STREAM.CREATE.LL", "{\"name\": \"LL\", \"subjects\": [\"ll\"], \"consumer_limits\": {\"max_ack_pending\": 10, \"inactive_threshold\": 60000000000}}", None),
    ("over limit ack", "$JS.API.CONSUMER.CREATE.LL.C", "{\"stream_name\": \"LL\", \"config\": {\"name\": \"C\", \"ack_policy\": \"explicit\", \"max_ack_pending\": 20}}", Some((400, 10121, "consumer max ack pending exceeds system limit of 10"))),
    ("over limit inactive", "$JS.API.CONSUMER.CREATE.LL.C", "{\"stream_name\": \"LL\", \"config\": {\"name\": \"C\", \"ack_policy\": \"explicit\", \"inactive_threshold\": 120000000000}}", Some((400, 10153, "consumer inactive threshold exceeds system limit of 1m0s"))),
    ("wq", "$JS.API.STREAM.CREATE.W", "{\"name\": \"W\", \"subjects\": [\"w.>\"], \"retention\": \"workqueue\"}", None),
    ("wq c1", "$JS.API.CONSUMER.CREATE.W.A", "{\"stream_name\": \"W\", \"config\": {\"name\": \"A\", \"ack_policy\": \"explicit\", \"filter_subject\": \"w.a\"}}", None),
    ("wq c2 overlap", "$JS.API.CONSUMER.CREATE.W.B", "{\"stream_name\": \"W\", \"config\": {\"name\": \"B\", \"ack_policy\": \"explicit\", \"filter_subject\": \"w.*\"}}", Some((400, 10100, "filtered consumer not unique on workqueue stream"))),
    ("wq c3 unfiltered", "$JS.API.CONSUMER.CREATE.W.C", "{\"stream_name\": \"W\", \"config\": {\"name\": \"C\", \"ack_policy\": \"explicit\"}}", Some((400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"))),
    ("wq c4 distinct", "$JS.API.CONSUMER.CREATE.W.D", "{\"stream_name\": \"W\", \"config\": {\"name\": \"D\", \"ack_policy\": \"explicit\", \"filter_subject\": \"w.b\"}}", None),
    ("wq ack none push", "$JS.API.CONSUMER.CREATE.W.E", "{\"stream_name\": \"W\", \"config\": {\"name\": \"E\", \"deliver_subject\": \"we\", \"filter_subject\": \"w.e\"}}", Some((400, 10098, "workqueue stream requires explicit ack"))),
    ("wq not deliver all", "$JS.API.CONSUMER.CREATE.W.F", "{\"stream_name\": \"W\", \"config\": {\"name\": \"F\", \"ack_policy\": \"explicit\", \"deliver_policy\": \"new\", \"filter_subject\": \"w.f\"}}", Some((400, 10101, "consumer must be deliver all on workqueue stream"))),
    ("wq update overlap", "$JS.API.CONSUMER.CREATE.W.D", "{\"stream_name\": \"W\", \"config\": {\"name\": \"D\", \"ack_policy\": \"explicit\", \"filter_subject\": \"w.>\"}}", Some((400, 10100, "filtered consumer not unique on workqueue stream"))),
    ("wq pull ack none", "$JS.API.CONSUMER.CREATE.W.G", "{\"stream_name\": \"W\", \"config\": {\"name\": \"G\", \"filter_subject\": \"w.g\"}}", Some((400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream"))),
    ("base stream", "$JS.API.STREAM.CREATE.B", "{\"name\": \"B\", \"subjects\": [\"b.>\"]}", None),
    ("base stream 2", "$JS.API.STREAM.CREATE.C", "{\"name\": \"C\", \"subjects\": [\"c.>\"], \"storage\": \"memory\"}", None),
    ("base sealed", "$JS.API.STREAM.CREATE.SE", "{\"name\": \"SE\", \"subjects\": [\"se\"]}", None),
    ("dw > max_age", "$JS.API.STREAM.CREATE.X1", "{\"name\": \"X1\", \"subjects\": [\"x1\"], \"max_age\": 1000000000, \"duplicate_window\": 2000000000}", Some((500, 10052, "duplicates window can not be larger then max age"))),
    ("dw small", "$JS.API.STREAM.CREATE.X2", "{\"name\": \"X2\", \"subjects\": [\"x2\"], \"duplicate_window\": 1000}", Some((500, 10052, "duplicates window needs to be >= 100ms"))),
    ("dw negative", "$JS.API.STREAM.CREATE.X3", "{\"name\": \"X3\", \"subjects\": [\"x3\"], \"duplicate_window\": -1}", Some((500, 10052, "duplicates window can not be negative"))),
    ("max_age negative", "$JS.API.STREAM.CREATE.X4", "{\"name\": \"X4\", \"subjects\": [\"x4\"], \"max_age\": -5}", Some((500, 10052, "max age can not be negative"))),
    ("deny purge + rollup", "$JS.API.STREAM.CREATE.X5", "{\"name\": \"X5\", \"subjects\": [\"x5\"], \"deny_purge\": true, \"allow_rollup_hdrs\": true}", Some((500, 10052, "roll-ups require the purge permission"))),
    ("dnps no discard new", "$JS.API.STREAM.CREATE.X6", "{\"name\": \"X6\", \"subjects\": [\"x6\"], \"discard_new_per_subject\": true, \"max_msgs_per_subject\": 5}", Some((500, 10052, "discard new per subject requires discard new policy to be set"))),
    ("dnps no per subject", "$JS.API.STREAM.CREATE.X7", "{\"name\": \"X7\", \"subjects\": [\"x7\"], \"discard_new_per_subject\": true, \"discard\": \"new\"}", Some((500, 10052, "discard new per subject requires max msgs per subject > 0"))),
    ("all subjects", "$JS.API.STREAM.CREATE.X8", "{\"name\": \"X8\", \"subjects\": [\">\"]}", Some((500, 10052, "capturing all subjects requires no-ack to be true"))),
    ("js api subject", "$JS.API.STREAM.CREATE.X9", "{\"name\": \"X9\", \"subjects\": [\"$JS.API.>\"]}", Some((500, 10052, "subjects that overlap with jetstream api require no-ack to be true"))),
    ("js event subject ok", "$JS.API.STREAM.CREATE.X10", "{\"name\": \"X10\", \"subjects\": [\"$JS.EVENT.ADVISORY.>\"]}", None),
    ("sys subject", "$JS.API.STREAM.CREATE.X11", "{\"name\": \"X11\", \"subjects\": [\"$SYS.>\"]}", Some((500, 10052, "subjects that overlap with system api require no-ack to be true"))),
    ("overlap subjects", "$JS.API.STREAM.CREATE.X12", "{\"name\": \"X12\", \"subjects\": [\"a.*\", \"a.b\"]}", Some((500, 10052, "subject \"a.*\" overlaps with \"a.b\""))),
    ("invalid subject", "$JS.API.STREAM.CREATE.X13", "{\"name\": \"X13\", \"subjects\": [\"a..b\"]}", Some((500, 10052, "invalid subject"))),
    ("replicas 6", "$JS.API.STREAM.CREATE.X14", "{\"name\": \"X14\", \"subjects\": [\"x14\"], \"num_replicas\": 6}", Some((500, 10052, "maximum replicas is 5"))),
    ("replicas -1", "$JS.API.STREAM.CREATE.X15", "{\"name\": \"X15\", \"subjects\": [\"x15\"], \"num_replicas\": -1}", Some((400, 10133, "replicas count cannot be negative"))),
    ("replicas 3", "$JS.API.STREAM.CREATE.X16", "{\"name\": \"X16\", \"subjects\": [\"x16\"], \"num_replicas\": 3}", Some((500, 10074, "replicas > 1 not supported in non-clustered mode"))),
    ("name too long", "$JS.API.STREAM.CREATE.{N256}", "{\"name\": \"{N256}\", \"subjects\": [\"x17\"]}", Some((500, 10052, "stream name is too long, maximum allowed is 255"))),
    ("description too long", "$JS.API.STREAM.CREATE.X18", "{\"name\": \"X18\", \"subjects\": [\"x18\"], \"description\": \"{D4097}\"}", Some((500, 10052, "stream description is too long, maximum allowed is 4096"))),
    ("placement preferred", "$JS.API.STREAM.CREATE.X19", "{\"name\": \"X19\", \"subjects\": [\"x19\"], \"placement\": {\"preferred\": \"n1\"}}", Some((500, 10052, "preferred server not permitted in placement"))),
    ("republish cycle", "$JS.API.STREAM.CREATE.X20", "{\"name\": \"X20\", \"subjects\": [\"x20.>\"], \"republish\": {\"src\": \">\", \"dest\": \"x20.out\"}}", Some((500, 10052, "stream configuration for republish destination forms a cycle"))),
    ("transform bad src", "$JS.API.STREAM.CREATE.X21", "{\"name\": \"X21\", \"subjects\": [\"x21.>\"], \"subject_transform\": {\"src\": \"a..b\", \"dest\": \"c\"}}", Some((400, 10155, "stream transform source: invalid subject a..b"))),
    ("transform bad dest", "$JS.API.STREAM.CREATE.X22", "{\"name\": \"X22\", \"subjects\": [\"x22.>\"], \"subject_transform\": {\"src\": \"x22.*\", \"dest\": \"y.{{wildcard(5)}}\"}}", Some((400, 10156, "stream transform: invalid mapping destination: wildcard index out of range in {{wildcard(5)}}: [5]"))),
    ("mirror with subjects", "$JS.API.STREAM.CREATE.X23", "{\"name\": \"X23\", \"subjects\": [\"x23\"], \"mirror\": {\"name\": \"B\"}}", Some((400, 10034, "stream mirrors can not contain subjects"))),
    ("mirror first seq", "$JS.API.STREAM.CREATE.X24", "{\"name\": \"X24\", \"first_seq\": 5, \"mirror\": {\"name\": \"B\"}}", Some((400, 10143, "stream mirrors can not have first sequence configured"))),
    ("mirror bad name", "$JS.API.STREAM.CREATE.X25", "{\"name\": \"X25\", \"mirror\": {\"name\": \"a.b\"}}", Some((400, 10142, "mirrored stream name is invalid"))),
    ("source bad name", "$JS.API.STREAM.CREATE.X26", "{\"name\": \"X26\", \"sources\": [{\"name\": \"a b\"}]}", Some((400, 10141, "sourced stream name is invalid"))),
    ("source dup", "$JS.API.STREAM.CREATE.X27", "{\"name\": \"X27\", \"sources\": [{\"name\": \"B\"}, {\"name\": \"B\"}]}", Some((400, 10140, "duplicate source configuration detected"))),
    ("max_msgs -5", "$JS.API.STREAM.CREATE.X28", "{\"name\": \"X28\", \"subjects\": [\"x28\"], \"max_msgs\": -5}", None),
    ("overlap other stream", "$JS.API.STREAM.CREATE.X29", "{\"name\": \"X29\", \"subjects\": [\"b.x\"]}", Some((400, 10065, "subjects overlap with an existing stream"))),
    ("unknown nested", "$JS.API.STREAM.CREATE.X30", "{\"name\": \"X30\", \"subjects\": [\"x30\"], \"placement\": {\"cluster\": \"c\", \"zone\": 1}}", Some((400, 10025, "invalid JSON: json: unknown field \"zone\""))),
    ("bad retention", "$JS.API.STREAM.CREATE.X31", "{\"name\": \"X31\", \"subjects\": [\"x31\"], \"retention\": \"foo\"}", Some((400, 10025, "invalid JSON: can not unmarshal \"\\\"foo\\\"\""))),
    ("update storage", "$JS.API.STREAM.UPDATE.C", "{\"name\": \"C\", \"subjects\": [\"c.>\"], \"storage\": \"file\"}", Some((500, 10052, "stream configuration update can not change storage type"))),
    ("update retention wq", "$JS.API.STREAM.UPDATE.B", "{\"name\": \"B\", \"subjects\": [\"b.>\"], \"retention\": \"workqueue\"}", Some((500, 10052, "stream configuration update can not change retention policy to/from workqueue"))),
    ("stream update missing", "$JS.API.STREAM.UPDATE.NOPE", "{\"name\": \"NOPE\", \"subjects\": [\"nope\"]}", Some((404, 10059, "stream not found"))),
    ("update name mismatch", "$JS.API.STREAM.UPDATE.B", "{\"name\": \"C\", \"subjects\": [\"c.>\"], \"storage\": \"memory\"}", Some((400, 10056, "stream name in subject does not match request"))),
    ("update seal", "$JS.API.STREAM.UPDATE.SE", "{\"name\": \"SE\", \"subjects\": [\"se\"], \"sealed\": true}", None),
    ("update unseal", "$JS.API.STREAM.UPDATE.SE", "{\"name\": \"SE\", \"subjects\": [\"se\"], \"sealed\": false}", Some((500, 10052, "stream configuration update can not unseal a sealed stream"))),
    ("filters overlap", "$JS.API.CONSUMER.CREATE.B.F1", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F1\", \"filter_subjects\": [\"b.>\", \"b.x\"]}}", Some((400, 10138, "consumer subject filters cannot overlap"))),
    ("filters partial overlap ok", "$JS.API.CONSUMER.CREATE.B.F2", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F2\", \"filter_subjects\": [\"b.*.c\", \"b.x.*\"]}}", None),
    ("filters empty", "$JS.API.CONSUMER.CREATE.B.F3", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F3\", \"filter_subjects\": [\"b.x\", \"\"]}}", Some((400, 10139, "consumer filter in FilterSubjects cannot be empty"))),
    ("filter both", "$JS.API.CONSUMER.CREATE.B.F4", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F4\", \"filter_subject\": \"b.x\", \"filter_subjects\": [\"b.y\"]}}", Some((400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"))),
    ("filter invalid", "$JS.API.CONSUMER.CREATE.B.F5", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F5\", \"filter_subject\": \"b..x\"}}", Some((500, 10052, "invalid subject"))),
    ("deliver wildcard", "$JS.API.CONSUMER.CREATE.B.F6", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F6\", \"deliver_subject\": \"d.*\"}}", Some((400, 10079, "consumer deliver subject has wildcards"))),
    ("push max waiting", "$JS.API.CONSUMER.CREATE.B.F7", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F7\", \"deliver_subject\": \"d.f7\", \"max_waiting\": 5}}", Some((400, 10080, "consumer in push mode can not set max waiting"))),
    ("push map ack none", "$JS.API.CONSUMER.CREATE.B.F8", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F8\", \"deliver_subject\": \"d.f8\", \"max_ack_pending\": 5}}", Some((400, 10082, "consumer requires ack policy for max ack pending"))),
    ("deliver cycle", "$JS.API.CONSUMER.CREATE.B.F9", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F9\", \"deliver_subject\": \"b.d\"}}", Some((400, 10081, "consumer deliver subject forms a cycle"))),
    ("pull rate", "$JS.API.CONSUMER.CREATE.B.F10", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F10\", \"rate_limit_bps\": 100}}", Some((400, 10086, "consumer in pull mode can not have rate limit set"))),
    ("pull hb", "$JS.API.CONSUMER.CREATE.B.F11", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F11\", \"idle_heartbeat\": 1000000000}}", Some((400, 10088, "consumer idle heartbeat requires a push based consumer"))),
    ("pull fc", "$JS.API.CONSUMER.CREATE.B.F12", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F12\", \"flow_control\": true}}", Some((400, 10089, "consumer flow control requires a push based consumer"))),
    ("pull max_expires small", "$JS.API.CONSUMER.CREATE.B.F13", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F13\", \"max_expires\": 1000}}", Some((400, 10115, "consumer max request expires needs to be >= 1ms"))),
    ("start seq missing", "$JS.API.CONSUMER.CREATE.B.F14", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F14\", \"deliver_policy\": \"by_start_sequence\"}}", Some((400, 10094, "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"))),
    ("all with seq", "$JS.API.CONSUMER.CREATE.B.F15", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F15\", \"opt_start_seq\": 5}}", Some((400, 10094, "consumer delivery policy is deliver all, but optional start sequence is also set"))),
    ("new with time", "$JS.API.CONSUMER.CREATE.B.F16", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F16\", \"deliver_policy\": \"new\", \"opt_start_time\": \"2026-01-01T00:00:00Z\"}}", Some((400, 10094, "consumer delivery policy is deliver new, but optional start time is also set"))),
    ("by time missing", "$JS.API.CONSUMER.CREATE.B.F17", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F17\", \"deliver_policy\": \"by_start_time\"}}", Some((400, 10094, "consumer delivery policy is deliver by start time, but optional start time is not set"))),
    ("by time with seq", "$JS.API.CONSUMER.CREATE.B.F18", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F18\", \"deliver_policy\": \"by_start_time\", \"opt_start_time\": \"2026-01-01T00:00:00Z\", \"opt_start_seq\": 3}}", Some((400, 10094, "consumer delivery policy is deliver by start time, but optional start start sequence is also set"))),
    ("backoff > max_deliver", "$JS.API.CONSUMER.CREATE.B.F19", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F19\", \"ack_policy\": \"explicit\", \"max_deliver\": 1, \"backoff\": [1000000000, 2000000000]}}", Some((400, 10116, "max deliver is required to be > length of backoff values"))),
    ("backoff negative", "$JS.API.CONSUMER.CREATE.B.F20", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F20\", \"ack_policy\": \"explicit\", \"backoff\": [-1]}}", Some((400, 10184, "consumer backoff needs to be positive"))),
    ("ack_wait negative", "$JS.API.CONSUMER.CREATE.B.F21", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F21\", \"ack_policy\": \"explicit\", \"ack_wait\": -1}}", Some((400, 10183, "consumer ack wait needs to be positive"))),
    ("consumer description", "$JS.API.CONSUMER.CREATE.B.F22", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F22\", \"description\": \"{D4097}\"}}", Some((400, 10107, "consumer description is too long, maximum allowed is 4096"))),
    ("consumer replicas 2", "$JS.API.CONSUMER.CREATE.B.F23", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F23\", \"num_replicas\": 2}}", Some((500, 10074, "replicas > 1 not supported in non-clustered mode"))),
    ("consumer replicas -1", "$JS.API.CONSUMER.CREATE.B.F24", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F24\", \"num_replicas\": -1}}", Some((400, 10133, "replicas count cannot be negative"))),
    ("sample negative", "$JS.API.CONSUMER.CREATE.B.F25", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F25\", \"sample_freq\": \"-5\"}}", Some((400, 10095, "failed to parse consumer sampling configuration: <nil>"))),
    ("sample ok", "$JS.API.CONSUMER.CREATE.B.F26", "{\"stream_name\": \"B\", \"config\": {\"name\": \"F26\", \"sample_freq\": \"50%\"}}", None),
    ("create base", "$JS.API.CONSUMER.CREATE.B.K", "{\"stream_name\": \"B\", \"config\": {\"name\": \"K\", \"ack_policy\": \"explicit\"}}", None),
    ("create again differ", "$JS.API.CONSUMER.CREATE.B.K", "{\"stream_name\": \"B\", \"config\": {\"name\": \"K\", \"ack_policy\": \"explicit\", \"max_deliver\": 5}, \"action\": \"create\"}", Some((400, 10148, "consumer already exists"))),
    ("consumer update missing", "$JS.API.CONSUMER.CREATE.B.NEW", "{\"stream_name\": \"B\", \"config\": {\"name\": \"NEW\", \"ack_policy\": \"explicit\"}, \"action\": \"update\"}", Some((400, 10149, "consumer does not exist"))),
    ("update ack policy", "$JS.API.CONSUMER.CREATE.B.K", "{\"stream_name\": \"B\", \"config\": {\"name\": \"K\", \"ack_policy\": \"all\"}}", Some((500, 10012, "ack policy can not be updated"))),
    ("update deliver policy", "$JS.API.CONSUMER.CREATE.B.K", "{\"stream_name\": \"B\", \"config\": {\"name\": \"K\", \"ack_policy\": \"explicit\", \"deliver_policy\": \"new\"}}", Some((500, 10012, "deliver policy can not be updated"))),
    ("update pull to push", "$JS.API.CONSUMER.CREATE.B.K", "{\"stream_name\": \"B\", \"config\": {\"name\": \"K\", \"ack_policy\": \"explicit\", \"deliver_subject\": \"d.k\"}}", Some((500, 10012, "can not update pull consumer to push based"))),
    ("update ok", "$JS.API.CONSUMER.CREATE.B.K", "{\"stream_name\": \"B\", \"config\": {\"name\": \"K\", \"ack_policy\": \"explicit\", \"max_deliver\": 7}}", None),
    ("path sep name", "$JS.API.CONSUMER.CREATE.B.a\\b", "{\"stream_name\": \"B\", \"config\": {\"name\": \"a\\\\b\"}}", Some((400, 10127, "Consumer name can not contain path separators"))),
    ("bad durable name", "$JS.API.CONSUMER.DURABLE.CREATE.B.x", "{\"stream_name\": \"B\", \"config\": {\"durable_name\": \"x\"}}", None),
    ("legacy ephemeral ok", "$JS.API.CONSUMER.CREATE.B", "{\"stream_name\": \"B\", \"config\": {\"ack_policy\": \"explicit\"}}", None),
    ("multi filters subject api", "$JS.API.CONSUMER.CREATE.B.G.b.x", "{\"stream_name\": \"B\", \"config\": {\"name\": \"G\", \"filter_subjects\": [\"b.x\"]}}", Some((400, 10137, "consumer with multiple subject filters cannot use subject based API"))),
    ("stream missing consumer", "$JS.API.CONSUMER.CREATE.NOSUCH.Z", "{\"stream_name\": \"NOSUCH\", \"config\": {\"name\": \"Z\"}}", Some((404, 10059, "stream not found"))),
    ("push hb ok", "$JS.API.CONSUMER.CREATE.B.H", "{\"stream_name\": \"B\", \"config\": {\"name\": \"H\", \"deliver_subject\": \"d.h\", \"idle_heartbeat\": 1000000000, \"flow_control\": true}}", None),
    ("consumer limits stream", "$JS.API.STREAM.CREATE.L", "{\"name\": \"L\", \"subjects\": [\"l\"], \"consumer_limits\": {\"max_ack_pending\": 10}}", None),
    // Source and mirror cycles (the same shapes answered by nats-server 2.15.1).
    ("cycle base", "$JS.API.STREAM.CREATE.CYA", "{\"name\": \"CYA\", \"subjects\": [\"cya\"]}", None),
    ("cycle second", "$JS.API.STREAM.CREATE.CYB", "{\"name\": \"CYB\", \"subjects\": [\"cyb\"], \"sources\": [{\"name\": \"CYA\"}]}", None),
    ("cycle back", "$JS.API.STREAM.UPDATE.CYA", "{\"name\": \"CYA\", \"subjects\": [\"cya\"], \"sources\": [{\"name\": \"CYB\", \"filter_subject\": \"cya\"}]}", Some((500, 10052, "detected cycle"))),
    ("self source", "$JS.API.STREAM.CREATE.CYS", "{\"name\": \"CYS\", \"subjects\": [\"cys\"], \"sources\": [{\"name\": \"CYS\"}]}", Some((500, 10052, "detected cycle"))),
    ("mirror of a missing stream", "$JS.API.STREAM.CREATE.CYC", "{\"name\": \"CYC\", \"mirror\": {\"name\": \"CYD\"}}", None),
    ("mirror back", "$JS.API.STREAM.CREATE.CYD", "{\"name\": \"CYD\", \"mirror\": {\"name\": \"CYC\"}}", Some((500, 10052, "detected cycle"))),
    ("filtered base", "$JS.API.STREAM.CREATE.CYE", "{\"name\": \"CYE\", \"subjects\": [\"cye\"]}", None),
    ("filtered second", "$JS.API.STREAM.CREATE.CYF", "{\"name\": \"CYF\", \"subjects\": [\"cyf\"], \"sources\": [{\"name\": \"CYE\", \"filter_subject\": \"cye\"}]}", None),
    ("filters keep the way round empty", "$JS.API.STREAM.UPDATE.CYE", "{\"name\": \"CYE\", \"subjects\": [\"cye\"], \"sources\": [{\"name\": \"CYF\", \"filter_subject\": \"cyf\"}]}", None),
];

#[tokio::test]
async fn every_check_answers_as_nats_server_2_15_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    })
    .await;
    let client = async_nats::connect(common::url(&server)).await.unwrap();
    let mut differences = Vec::new();
    for &(what, subject, body, want) in CASES {
        let body = body
            .replace("{N256}", &"N".repeat(256))
            .replace("{D4097}", &"d".repeat(4097));
        let subject = subject.replace("{N256}", &"N".repeat(256));
        let answer = tokio::time::timeout(Duration::from_secs(5), client.request(subject, body.into()))
            .await
            .unwrap_or_else(|_| panic!("{what}: no answer"))
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
        let got = json.get("error").map(|e| {
            (
                e["code"].as_u64().unwrap_or(0) as u16,
                e["err_code"].as_u64().unwrap_or(0) as u16,
                e["description"].as_str().unwrap_or("").to_string(),
            )
        });
        let want = want.map(|(c, e, d)| (c, e, d.to_string()));
        if got != want {
            differences.push(format!("{what}: got {got:?}, nats-server {want:?}"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Stream limits on consumers fill in what a consumer leaves unset, as in
/// nats-server; `jetstream { strict: false }` lets unknown fields through.
#[tokio::test]
async fn consumer_limits_are_defaults_and_strict_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        js_strict: false,
        ..Options::default()
    })
    .await;
    let client = async_nats::connect(common::url(&server)).await.unwrap();
    let ask = |subject: &'static str, body: &'static str| {
        let client = client.clone();
        async move {
            let m = client.request(subject, body.into()).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap()
        }
    };
    let s = ask(
        "$JS.API.STREAM.CREATE.L",
        r#"{"name":"L","subjects":["l"],"consumer_limits":{"max_ack_pending":10},"not_a_field":true}"#,
    )
    .await;
    assert!(s.get("error").is_none(), "{s}");
    let c = ask(
        "$JS.API.CONSUMER.CREATE.L.D",
        r#"{"stream_name":"L","config":{"name":"D","ack_policy":"explicit","also_unknown":1}}"#,
    )
    .await;
    assert_eq!(c["config"]["max_ack_pending"], 10, "{c}");
    // A feature nats-server has and Junction lacks is refused all the same.
    let ttl = ask(
        "$JS.API.STREAM.CREATE.T",
        r#"{"name":"T","subjects":["t"],"allow_msg_counter":true}"#,
    )
    .await;
    assert_eq!(ttl["error"]["err_code"], 10025, "{ttl}");
}
