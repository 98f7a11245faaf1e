#!/usr/bin/env bash
# Sharing a record with a colleague whose daemon is already connected and synced: the
# record reaches them whole, at once, by the live push (not only at the next
# reconciliation). The push sends ops stored since the last push; a record made earlier
# and shared now has its older ops below that mark, so they must follow its audience op.
# Seen as a record "(unnamed)" on bob's node until both daemons restarted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"

mk alice
mk bob
serve alice
serve bob
node alice peer add bob "$id_bob" --addr "127.0.0.1:$port_bob" --group sales >/dev/null
node bob peer add alice "$id_alice" --addr "127.0.0.1:$port_alice" >/dev/null

old=$(node alice add person --name "Made Before" --set title=Earlier --set org=Acme | head -1)
first=$(node alice add person --name "First Shared" --share bob | head -1)
wait_for "the first shared record reaches bob live" bob "$first" "First Shared"
ok "alice edits the old record again" node alice edit "$old" --set title=Later
ok "then shares it with @sales" node alice share "$old" --with @sales
wait_for "its name reaches bob" bob "$old" "Made Before"
wait_for "its organisation too" bob "$old" "Acme"
wait_for "and its newest title" bob "$old" "Later"
ok "bob lists it" node bob list
lacks "not unnamed" "$TMP/out" "(unnamed)"
# A second record shared through a new group member, not a direct share.
group=$(node alice add person --name "Group Later" --set title=Via-Group | head -1)
ok "shared with @ops, nobody in it yet" node alice share "$group" --with @ops
ok "bob joins ops" node alice peer edit bob --add-group ops
wait_for "the group's record reaches bob whole" bob "$group" "Via-Group"
finish
