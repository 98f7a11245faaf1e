#!/usr/bin/env python3
"""Splits the CPU time of a profiled sync (scripts/profile-sync) into the stages of
docs/PERF.md, per op.

    perf-split.py N RECEIVER.data SENDER.data

Reads `perf script` of each file (cpu-clock samples with DWARF call chains). Every sample
is credited to the first rule, in the order below, that a frame of its call chain
matches; the rules are ordered from the most specific (Ed25519 inside kith_op_verify) to
the most general (any other SQLite call), so that, say, a BLAKE2b call made while
sealing counts as sealing. Prints microseconds of CPU time per op (all threads), the
share, and, per stage, where the leaf samples fell (which library); then the same time
by thread, which tells what is serial (the daemon runs one job at a time). Samples taken before
the sync (start-up, opening the store) count under "start-up and shut-down".
"""
import collections
import re
import subprocess
import sys

# (stage, regular expression over one frame's symbol); first matching stage wins, and
# within a stage the chain is searched leaf first.
RULES = [
    ("start-up and shut-down (not per op)",
     r"^(kith_store_open|kith_node_open|kith_store_close|kith_node_close|_dl_start|_dl_init|"
     r"exit|kith_daemon_new|kith_daemon_free|cmd_init|kith_identity_from_seed|"
     r"kith_store_auth_check|sqlite3_open_v2|kith_store_check)$"),
    ("Ed25519 signature verification",
     r"^(kith_identity_verify|crypto_sign_ed25519_verify_detached|crypto_sign_verify_detached|"
     r"_crypto_sign_ed25519_verify_detached)$"),
    ("op decode (msgpack, canonical re-encode check)", r"^kith_op_decode$"),
    ("verify threads: create/join, the rest of verify_slice", r"^(verify_all|verify_slice)$"),
    ("hashing ops (BLAKE2b): mark_known, session idset", r"^kith_op_hash$"),
    ("known-op lookup (SELECT by hash)", r"^mark_known$"),
    ("seal ops and records (XChaCha20-Poly1305)", r"^kith_vault_seal$"),
    ("unseal ops and records", r"^(kith_vault_unseal|unseal_column|unseal_op_row)$"),
    ("row MACs (BLAKE2b keyed)",
     r"^(kith_rowmac_\w+|record_mac|audience_mac|former_mac|table_mac|auth_commit|share_mac)$"),
    ("fold (build the record from its ops)",
     r"^(kith_fold\w*|walk|apply_fields|kith_accept_holding|kith_accept_op)$"),
    ("record encode, search text, name tag",
     r"^(kith_record_encode|search_text|name_tag|kith_textfold\w*)$"),
    ("SQLite: insert op rows", r"^insert_op$"),
    ("SQLite: write record, search, audience rows", r"^(write_record|write_former)$"),
    ("SQLite: other in apply (savepoints, refold reads)",
     r"^(apply_ops|kith_store_apply_remote|fold_new_record|write_new_record|refold_record|"
     r"delete_op)$"),
    ("SQLite: commit (incl. fsync/write syscalls)",
     r"^(kith_store_commit|kith_store_begin|sqlite3_exec)$"),
    ("sender: choose and read ops to send (offer, ops_since)",
     r"^(kith_store_sync_items|kith_store_ops_since|offer_rows|offer_query|vouch_\w+|"
     r"kith_store_op_get|load_items|ops_since|load_op)$"),
    ("set reconciliation", r"^(kith_reconcile\w*|on_recon|kith_recon\w*)$"),
    ("Noise transport encrypt/decrypt (ChaCha20-Poly1305)",
     r"^(kith_noise_cs_encrypt|kith_noise_cs_decrypt|aead_encrypt|aead_decrypt)$"),
    ("handshake (Noise IK)", r"^(kith_noise_hs_\w+|kith_session_start)$"),
    ("session framing, msgpack of messages, batching",
     r"^(kith_session_receive|kith_session_pull|kith_session_push|on_message|on_ops|"
     r"batch_flush|batch_add|send_msg|kith_mpcheck|msgpack_unpack_next)$"),
    ("socket I/O and event loop (libuv, syscalls)",
     r"^(uv_run|uv__io_poll|uv__read|uv__write|uv_try_write|uv__stream_io|"
     r"__libc_write|__libc_read|writev|read|write)$"),
    ("daemon job queue and thread pool", r"^(worker|conn_work|work_cb|after_work_cb|uv__work_done)$"),
]
COMPILED = [(name, re.compile(rx)) for name, rx in RULES]


def leaf_class(dso):
    for key, name in (("libsodium", "libsodium"), ("libsqlite3", "SQLite"), ("libc.so", "libc"),
                      ("kernel", "kernel"), ("libmsgpack", "msgpack"), ("libuv", "libuv")):
        if key in dso:
            return name
    return "kith" if dso.endswith("/kith)") or dso.endswith("kith)") else "other"


def split(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "tid,period,ip,sym,dso",
                          "--no-inline"], capture_output=True, text=True, check=True).stdout
    totals = collections.Counter()
    threads = collections.Counter()
    leaves = collections.defaultdict(collections.Counter)
    for block in out.split("\n\n"):
        lines = [l for l in block.strip("\n").split("\n") if l.strip()]
        if not lines:
            continue
        head = lines[0].split()
        if len(head) < 2:
            continue
        period = int(head[1])
        frames = []
        for l in lines[1:]:
            m = re.match(r"\s*[0-9a-f]+ (\S+?)(\+0x[0-9a-f]+)? \((.*)\)$", l.strip())
            if m:
                frames.append((m.group(1), m.group(3)))
        stage = "other (not matched)"
        for name, rx in COMPILED:
            if any(rx.match(sym) for sym, _ in frames):
                stage = name
                break
        totals[stage] += period
        syms = {sym for sym, _ in frames}
        if "conn_work" in syms:
            threads["job thread (conn_work; one job at a time)"] += period
        elif "verify_slice" in syms:
            threads["verify threads started by verify_all"] += period
        else:
            threads["other threads (event loop, one-shot's main thread)"] += period
        leaves[stage][leaf_class("(" + frames[0][1] + ")") if frames else "other"] += period
    return totals, leaves, threads


def main():
    n = int(sys.argv[1])
    for side, path in (("receiver", sys.argv[2]), ("sender", sys.argv[3])):
        totals, leaves, threads = split(path)
        all_ns = sum(totals.values())
        startup = sum(v for k, v in totals.items() if k.startswith("start-up"))
        print("\n%s: %.1f us of CPU per op in all, %.1f without start-up and shut-down" %
              (side, all_ns / 1000 / n, (all_ns - startup) / 1000 / n))
        for stage, ns in totals.most_common():
            lib = ", ".join("%s %d%%" % (k, round(100 * v / ns)) for k, v in
                            leaves[stage].most_common(3))
            print("  %7.1f us/op %5.1f%%  %s  [%s]" % (ns / 1000 / n, 100 * ns / all_ns, stage, lib))
        print("  by thread:")
        for name, ns in threads.most_common():
            print("  %7.1f us/op %5.1f%%  %s" % (ns / 1000 / n, 100 * ns / all_ns, name))


if __name__ == "__main__":
    main()
