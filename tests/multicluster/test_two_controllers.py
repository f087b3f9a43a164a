"""Two controllers, one decision (issue 18): the same GlobalDatabase in the
clusters of us-east-1 and us-west-2, a controller in each, and the stories of
the issue's "Done when", in the order they leave the world for the next:

(c) a partition of the west controller from us-east-1 (the east controller
    still sees it): no mutating RDS call, and the west object says why it waits;
    then, with replication into us-west-2 cut as well (from the west seat an
    outage in every respect), the guard holds west back on east's verdict;
(a) a planned switchover (spec.primaryRegion flipped in both clusters) to
    us-west-2: one SwitchoverGlobalCluster, both objects Ready in us-west-2;
(e) the guard's DynamoDB throttled right after the switchover back to us-east-1
    was made: the rest of the operation waits (GuardUnavailable), no second
    promotion, and it completes when the throttling ends;
(d) the controller that holds the lease killed right after its switchover call
    to us-west-2: the other takes the lease over and finishes the same
    operation, still one promotion;
(b) a real outage of us-west-2, the primary now (both vantage points agree):
    one promotion, to us-east-1, by whichever controller wins; the other
    follows the detach, and the tail's AWS calls (Route 53, SSM, ECS) are made
    once, by the winner, while each restarts its own cluster's Deployment.

Everything is read as a user would: the emulator's call log (who called what,
where: each controller signs with its own access key) and the objects'
status, conditions and Events through kubectl.
"""

import time

from conftest import EAST, GUARD_LEASE_S, WEST, fmt, wait_for
from waiting import hold

# How long a story watches for a call that must not come: the detection window
# (periodSeconds 2 x failureThreshold 3) three times over.
QUIET_SECONDS = 18


def one_promotion(mc, since, action):
    calls = mc.promotions(since)
    assert [c["action"] for c in calls if c["status"] == 200] == [action], "\n".join(
        map(fmt, calls)
    )
    return next(c for c in calls if c["status"] == 200)


def test_c_partition_of_one_controller_fails_over_nothing(mc, stage, emulator):
    since = stage
    east, west = mc.east, mc.west
    west.vantage.cut(EAST)
    t_cut = time.time()

    # The west controller loses the primary; it must say why it does not act.
    def waits():
        ph = west.condition("PrimaryHealthy")
        assert ph and ph["status"] == "False", f"west PrimaryHealthy {ph}"
        g, d = west.condition("Guarded"), west.condition("Degraded")
        said = [
            c
            for c in (g, d)
            if c
            and (
                (c["type"] == "Guarded" and c["status"] == "False")
                or (c["type"] == "Degraded" and c["status"] == "True")
            )
        ]
        assert said, f"west says nothing: Guarded {g}, Degraded {d}"
        return said

    said = wait_for(waits, timeout=60, interval=0.5, what="the west controller to say why it waits")
    print("\nwest waits: " + "; ".join(f"{c['type']}={c['reason']}: {c['message']}" for c in said))

    def nothing_moved():
        assert not mc.rds_writes(since), "\n".join(map(fmt, mc.rds_writes(since)))
        st = east.status()
        assert st.get("currentPrimaryRegion") == EAST, st.get("currentPrimaryRegion")

    hold(QUIET_SECONDS, nothing_moved, "no mutating RDS call")
    # The east controller still sees a healthy primary and stays Ready.
    assert east.condition("Ready")["status"] == "True"
    assert east.condition("PrimaryHealthy")["status"] == "True"
    # Its reason is an Event of the west object too.
    reasons = {e["reason"] for e in west.events_since(t_cut)}
    assert reasons & {c["reason"] for c in said}, (reasons, said)
    assert mc.world.writer_region("orders-global") == EAST

    # The partition that fools a lone controller: the us-west-2 secondary stops
    # hearing the primary too (replication into it cut). From the west seat this
    # is an outage; only the east controller's fresh verdict holds it back.
    emulator.post("/replication", {"region": WEST, "paused": True})
    try:

        def held_back():
            g = west.condition("Guarded")
            assert (
                g
                and g["status"] == "False"
                and g["reason"] in ("VetoedByPeer", "AwaitingCorroboration")
            ), f"west: Guarded {g}; Degraded {west.condition('Degraded')}"
            return g

        g = wait_for(held_back, timeout=90, interval=0.5, what="the guard to hold west back")
        print(f"west held back: Guarded={g['reason']}: {g['message']}")
        hold(QUIET_SECONDS, nothing_moved, "no mutating RDS call")
        assert east.condition("Ready")["status"] == "True"
    finally:
        emulator.post("/replication", {"region": WEST, "paused": False})

    west.vantage.heal(EAST)
    west.wait_ready_in(EAST, timeout=90)
    assert not mc.rds_writes(since)


def test_a_planned_switchover_is_acted_on_once(mc, stage):
    since = stage
    mc.patch_both(primaryRegion=WEST)
    for s in mc.sides:
        s.wait_ready_in(WEST, timeout=150)
    call = one_promotion(mc, since, "SwitchoverGlobalCluster")
    assert call["region"] == EAST, "a switchover is called in the current primary's region"
    actor = mc.side_of_caller(call["caller"])
    assert actor is not None, call
    print(f"\nswitchover made by {actor.name}")
    assert mc.world.writer_region("orders-global") == WEST
    west_endpoint = mc.world.cluster(WEST, "orders-west")["Endpoint"]
    assert mc.world.record(f"writer.{mc.world.zone_name}") == west_endpoint
    last = actor.status().get("lastOperation") or {}
    assert last.get("type") == "Switchover" and last.get("result") == "Succeeded", last
    assert "LeaseAcquired" in actor.event_reasons()
    # DNS changed once: the operation's later calls were made once, too.
    dns = [c for c in mc.calls(since, "ChangeResourceRecordSets") if c["status"] == 200]
    assert len({c["caller"] for c in dns}) == 1, "\n".join(map(fmt, dns))


def test_e_guard_throttled_no_second_promotion(mc, stage, emulator):
    since = stage
    # Every DynamoDB call, in every region, throttled from the moment the
    # switchover call has been made: the operation's next calls need the guard.
    emulator.post(
        "/throttle",
        {"fraction": 1, "services": ["dynamodb"], "after": "SwitchoverGlobalCluster", "seed": 7},
    )
    mc.patch_both(primaryRegion=EAST)
    call = wait_for(
        lambda: next((c for c in mc.promotions(since) if c["status"] == 200), None),
        timeout=90,
        what="the switchover call",
    )
    assert call["action"] == "SwitchoverGlobalCluster", fmt(call)
    actor = mc.side_of_caller(call["caller"])

    def unavailable():
        c = actor.condition("Guarded")
        assert c and c["status"] == "False" and c["reason"] == "GuardUnavailable", c
        return c

    c = wait_for(unavailable, timeout=60, interval=0.5, what=f"{actor.name}: GuardUnavailable")
    print(f"\n{actor.name} waits: {c['reason']}: {c['message']}")
    throttled_at = mc.mark()

    def held():
        assert [x["action"] for x in mc.promotions(since)] == ["SwitchoverGlobalCluster"]
        assert not [
            x for x in mc.calls(throttled_at) if x["action"] in ("ChangeResourceRecordSets",)
        ], "a call of the operation went out without the guard"

    hold(QUIET_SECONDS / 2, held, "no call while the guard is throttled")
    throttled = [x for x in mc.calls(since) if x["injected"] == "throttle"]
    assert throttled and all(x["service"] == "dynamodb" for x in throttled)

    emulator.post("/throttle", {"fraction": 0})
    for s in mc.sides:
        s.wait_ready_in(EAST, timeout=150)
    one_promotion(mc, since, "SwitchoverGlobalCluster")
    east_endpoint = mc.world.cluster(EAST, "orders-east")["Endpoint"]
    assert mc.world.record(f"writer.{mc.world.zone_name}") == east_endpoint


def lease_writes(mc, side):
    """side's successful writes of a lease item (not of its verdict items)."""
    out = []
    for c in mc.calls(0):
        if c["service"] != "dynamodb" or c["caller"] != side.access_key or c["status"] != 200:
            continue
        p = c["params"]
        pk = ((p.get("Key") or p.get("Item") or {}).get("pk") or {}).get("S", "")
        if c["action"] in ("PutItem", "UpdateItem") and not pk.startswith("verdict/"):
            out.append(c)
    return out


def test_d_lease_holder_killed_mid_operation(mc, stage):
    since = stage
    mc.patch_both(primaryRegion=WEST)
    call = wait_for(
        lambda: next((c for c in mc.promotions(since) if c["status"] == 200), None),
        timeout=90,
        interval=0.1,
        what="the switchover call",
    )
    holder = mc.side_of_caller(call["caller"])
    holder.kill()
    t_kill = time.time()
    other = mc.east if holder is mc.west else mc.west
    print(f"\n{holder.name} killed after its {fmt(call)}")

    # The survivor waits out the lease (plus the margin), takes it over and
    # finishes the same operation: its later calls (the writer record) are made.
    def dns_after_promotion():
        return [c for c in mc.calls(call["seq"], "ChangeResourceRecordSets") if c["status"] == 200]

    def finished():
        done = dns_after_promotion()
        assert done, (
            f"no writer-record change since the promotion; {other.name}: "
            f"Guarded {other.condition('Guarded')}, events since the kill "
            f"{sorted({e['reason'] for e in other.events_since(t_kill)})}"
        )
        return done

    done = wait_for(finished, timeout=200, interval=1, what="the rest of the switchover")
    print(
        f"the writer record changed by {mc.side_of_caller(done[0]['caller']).name} "
        f"{time.time() - t_kill:.1f}s after the kill"
    )
    assert done[0]["caller"] == other.access_key, "the killed controller made the call"
    # Not before the lease ran out: the survivor waits a lease (and a margin)
    # from the last change of the lease item it saw, which is no earlier than
    # the dead holder's last write of it.
    renewed = max(c["time"] for c in lease_writes(mc, holder) if c["time"] <= t_kill)
    waited = done[0]["time"] - renewed
    assert waited >= GUARD_LEASE_S, f"taken over {waited:.1f}s after the last renewal"
    other.wait_ready_in(WEST, timeout=60)
    reasons = {e["reason"] for e in other.events_since(t_kill)}
    assert "LeaseTakenOver" in reasons, reasons
    one_promotion(mc, since, "SwitchoverGlobalCluster")
    assert mc.world.writer_region("orders-global") == WEST


def test_b_real_outage_fails_over_once(mc, stage, emulator):
    since = stage
    for s in mc.sides:
        s.wait_ready_in(WEST, timeout=60)
    marks = {s.name: s.gdb.op_mark() for s in mc.sides}
    stamps = {s.name: s.world.restarted_at() for s in mc.sides}
    t_outage = time.time()
    t0 = time.monotonic()
    # us-west-2 is gone for everyone: every service, and its servers frozen.
    emulator.outage(WEST, "5xx", pg="freeze")

    def promoted():
        calls = [c for c in mc.promotions(since) if c["status"] == 200]
        return calls[0] if calls else None

    call = wait_for(promoted, timeout=120, interval=0.2, what="a promotion")
    winner = mc.side_of_caller(call["caller"])
    print(f"\npromotion by {winner.name} after {time.monotonic() - t0:.1f}s: {fmt(call)}")
    assert call["region"] == EAST, "the promotion is in the surviving region"
    last = winner.gdb.wait_operation("Failover", marks[winner.name], timeout=120)
    assert last["result"] == "Succeeded" and last["targetRegion"] == EAST, last

    def once():
        calls = mc.promotions(since)
        assert len([c for c in calls if c["status"] == 200]) == 1, "\n".join(map(fmt, calls))

    hold(QUIET_SECONDS / 2, once, "one promotion")
    print(f"failover done after {time.monotonic() - t0:.1f}s")
    # The other controller followed the detach: its record ends once the winner released it
    # as completed, naming who made the calls.
    other = mc.west if winner is mc.east else mc.east
    followed = other.gdb.wait_operation("Failover", marks[other.name], timeout=120)
    assert followed["result"] == "Succeeded" and followed["targetRegion"] == EAST, followed
    assert f"controller {winner.name} made its AWS calls" in followed.get("message", ""), followed
    assert "DoneByPeer" in {e["reason"] for e in other.events_since(t_outage)}

    # Each tail call was made once, by the winner: a second ECS call would roll the service
    # again, and DNS and SSM were written by one hand.
    def tail_once():
        for action in ("ChangeResourceRecordSets", "PutParameter", "UpdateService"):
            calls = [c for c in mc.calls(since, action) if c["status"] == 200]
            callers = {mc.side_of_caller(c["caller"]).name for c in calls}
            assert callers == {winner.name}, f"{action}:\n" + "\n".join(map(fmt, calls))
        forced = [c for c in mc.calls(since, "UpdateService") if c["status"] == 200]
        assert len(forced) == 1, "\n".join(map(fmt, forced))

    hold(QUIET_SECONDS / 2, tail_once, "the tail made once")
    # ... and each cluster's Deployment was restarted by its own controller.
    for s in mc.sides:
        assert s.world.restarted_at() != stamps[s.name], f"{s.name}'s orders-api not restarted"
    # Each object tells its cluster's users where the writer is now.
    for s in mc.sides:
        wait_for(
            lambda s=s: s.status().get("currentPrimaryRegion") == EAST,
            timeout=60,
            interval=0.5,
            what=f"{s.name}'s object: writer in us-east-1",
        )
