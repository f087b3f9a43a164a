/*
 * Two controllers, one decision (issue #18; docs/protocol.md, "Two controllers,
 * one decision"). The same GlobalDatabase is applied to clusters in two
 * regions; a controller runs in each (K0 in region B, K1 in region C). The
 * decision is guarded by a linearizable compare-and-swap register with an
 * epoch (the DynamoDB multi-Region strongly consistent lease item), and a
 * detach-and-promote needs the other controller's co-signature for the
 * operation's epoch (or the operator's approval).
 *
 * This model is smaller than failover.pml on purpose: it keeps what two
 * controllers add (the race, crashes, partitions from the primary and from the
 * guard, stale views, lease expiry, a vantage point fooled by a partition plus
 * a replication break) and leaves out what failover.pml already checks for one
 * controller (Route 53, throttling, the fallback, the human's console failover,
 * the status write).
 *
 * Regions A (the writer at the start), B and C (secondaries of gen1). Only A
 * fails.
 *
 * Switches:
 *   OLD_ALONE   no guard and no corroboration: each controller decides alone
 *               with its own status and the one-controller rules. SPIN finds
 *               a double promotion (model/old_alone.pml).
 *   OLD_UNCORROBORATED  the guard, but a detach on one vantage point (no
 *               co-signature): SPIN finds a detach of a live primary
 *               (model/old_uncorroborated.pml).
 *   IN_FLIGHT   drop assumption A9: a call can stay on the wire while the
 *               lease moves on (model/limit_inflight.pml)
 *   LIVE        a regional outage is permanent (liveness runs)
 *   N_CRASH, N_STALE, N_TIMEOUT, N_SKEW: fault budgets
 *   F_PART, F_GPART, F_FOOL, F_APPROVE, F_METHODS: which faults/events exist
 */

#define A 0
#define B 1
#define C 2
#define NOREG 3
#define BIT(r) (1 << (r))
#define ALL 7
#define NONE 2 /* no controller */

#ifndef N_CRASH
#define N_CRASH 1   /* controller crashes (each restarts) */
#endif
#ifndef N_STALE
#define N_STALE 1   /* a Describe of gen1 answers from the stale view */
#endif
#ifndef N_TIMEOUT
#define N_TIMEOUT 1 /* an RDS call times out, applied or lost */
#endif
#ifndef N_SKEW
#define N_SKEW 1    /* the lease expires while its holder still runs (pause, clock skew) */
#endif
#ifndef F_PART
#define F_PART 1    /* a controller cut off from region A */
#endif
#ifndef F_GPART
#define F_GPART 1   /* a controller cut off from the guard (not from RDS) */
#endif
#ifndef F_FOOL
#define F_FOOL 1    /* a controller cut off from a live A while replication from A breaks */
#endif
#ifndef F_APPROVE
#define F_APPROVE 1 /* the operator approves a detach during a real outage */
#endif
#ifndef F_METHODS
#define F_METHODS 1 /* 1: Managed and DetachAndPromote; 0: DetachAndPromote only */
#endif

#define M_MANAGED 0
#define M_DETACH 1

/* the guard's operation states */
#define G_NONE 0
#define G_RUN 1
#define G_DONE 2

/* ---------------- the world ---------------- */

bit g1 = 1;          /* gen1 exists */
byte mem = ALL;      /* gen1's members */
byte gw = A;         /* gen1's primary */
bit fs;              /* FailoverState: a managed failover runs */
byte fs_tgt = NOREG;
byte sa;             /* detached, promoted, writable clusters */
byte o_mem = ALL, o_gw = A, o_sa; /* the view before the last change (a stale answer) */
bit o_fs;

bit dbA_alive = 1;   /* region A's database */
bit apiA_up = 1;     /* region A's RDS control plane */
bit repl_cut;        /* A alive, replication from A broken */
bit cutA[2];         /* controller k cut off from region A (probes and API) */
bit cutG[2];         /* controller k cut off from the guard */
bit up[2] = 1;       /* controller k runs */
byte method;

/* ---------------- the guard: one linearizable item ---------------- */

byte g_epoch;        /* the fencing token: +1 on every acquisition */
byte g_holder = NONE;
bit g_lease;         /* the holder's lease has not expired */
byte g_op, g_tgt = NOREG, g_method;
/* corroboration, published beside the lease item */
byte pv[2];          /* each controller's latest verdict on the primary: 0 none, 1 reachable, 2 unreachable */
byte cosign[2];      /* the epoch whose detach controller k confirmed from its own view (0: none) */
byte approved;       /* the epoch whose detach the operator approved */

/* ---------------- budgets and ghosts ---------------- */

byte b_crash = N_CRASH, b_stale = N_STALE, b_to = N_TIMEOUT, b_skew = N_SKEW;
bit outage, returned;
byte promos;         /* promotions of gen1 members (one outage, one operation) */

#define ALIVE(r) ((r) != A || dbA_alive)
#define CP_UP(r) ((r) != A || apiA_up)
#define WRITABLE(r) (ALIVE(r) && ((sa & BIT(r)) != 0 || (g1 && gw == (r) && (mem & BIT(r)) != 0)))
#define TWO_WRITERS ((WRITABLE(A) && WRITABLE(B)) || (WRITABLE(A) && WRITABLE(C)) || \
		     (WRITABLE(B) && WRITABLE(C)))
#define WRITER_ELSEWHERE ((g1 && gw != A) || sa != 0)
#define PEER(k) (1 - (k))

inline snap()
{
	o_mem = mem; o_gw = gw; o_fs = fs; o_sa = sa
}

inline promoted()
{
	promos++;
	if :: promos > 1 -> printf("MSC: VIOLATION: a second promotion\n") :: else fi;
	assert(promos <= 1)
}

/* Property 3: no data-losing action against a live writer that its region's control plane reaches */
inline data_loss_check()
{
	if
	:: ALIVE(gw) && CP_UP(gw) ->
		printf("MSC: VIOLATION: data-losing call while the writer %c is alive\n", 65 + gw)
	:: else
	fi;
	assert(!(ALIVE(gw) && CP_UP(gw)))
}

/* AWS executes controller k's call on target t (the method is the spec's) */
inline apply_call(k, t)
{
	if
	:: method == M_MANAGED ->
		printf("MSC: K%d: FailoverGlobalCluster(%c), AllowDataLoss\n", k, 65 + t);
		if
		:: g1 && !fs && (mem & BIT(t)) != 0 && (sa & BIT(t)) == 0 && gw != t ->
			data_loss_check();
			snap(); fs = 1; fs_tgt = t
		:: else /* refused: busy, or the target is the writer already */
		fi
	:: method == M_DETACH ->
		printf("MSC: K%d: RemoveFromGlobalCluster(%c)\n", k, 65 + t);
		if
		:: g1 && !fs && (mem & BIT(t)) != 0 && gw != t ->
			data_loss_check();
			snap(); mem = mem & ~BIT(t); sa = sa | BIT(t);
			promoted()
		:: else /* refused: not a member, busy */
		fi
	fi
}

#ifdef IN_FLIGHT
/* Assumption A9 dropped: a call stays on the wire across rounds, and AWS
 * applies it at any later moment (a request that outlives its client). */
byte fl_tgt = NOREG, fl_k;
active proctype Flight()
{
	do
	:: atomic { fl_tgt != NOREG ->
		printf("MSC: AWS applies K%d's call from an earlier round\n", fl_k);
		apply_call(fl_k, fl_tgt); fl_tgt = NOREG }
	od
}
#endif

/* Property 1: never two clusters that accept writes. */
active proctype Monitor()
{
	atomic {
		TWO_WRITERS ->
		printf("MSC: VIOLATION: two clusters accept writes\n");
		assert(!TWO_WRITERS)
	}
}

/* Aurora finishes a managed failover; the old primary is demoted (now, or when it returns). */
active proctype Aurora()
{
	do
	:: atomic { fs ->
		printf("MSC: Aurora: managed failover done, writer %c\n", 65 + fs_tgt);
		snap(); gw = fs_tgt; fs = 0; fs_tgt = NOREG;
		promoted() }
	od
}

/* The lease runs out when its holder is down or cut off from the guard (and
 * once, by N_SKEW, while the holder still runs: a pause or clock skew). */
active proctype Lease()
{
	do
	:: atomic { g_lease && g_holder != NONE && (!up[g_holder] || cutG[g_holder]) ->
		g_lease = 0 }
	:: atomic { g_lease && b_skew > 0 -> b_skew--; g_lease = 0;
		printf("MSC: Lease: expires while K%d runs\n", g_holder) }
	/* a verdict older than its freshness bound no longer counts */
	:: atomic { pv[0] != 0 && (!up[0] || cutG[0]) -> pv[0] = 0 }
	:: atomic { pv[1] != 0 && (!up[1] || cutG[1]) -> pv[1] = 0 }
	od
}

active proctype Env()
{
	bit n_part = F_PART, n_gpart = F_GPART, n_fool = F_FOOL, n_appr = F_APPROVE;

	atomic {
		if
#if F_METHODS
		:: method = M_MANAGED
#endif
		:: method = M_DETACH
		fi
	}
	do
	:: atomic { !outage && !returned ->
		printf("MSC: Env: regional outage of A\n");
		outage = 1; dbA_alive = 0; apiA_up = 0 }
#ifndef LIVE
	/* A returns: not once a promotion is in flight or done (A3 of failover.pml),
	 * and not between a co-signature and the detach it allows (A8) */
	:: atomic { outage && promos == 0 && !fs &&
		!(g_op == G_RUN && g_method == M_DETACH &&
		  (cosign[0] == g_epoch || cosign[1] == g_epoch || approved == g_epoch)) ->
		printf("MSC: Env: region A returns\n");
		outage = 0; returned = 1; dbA_alive = 1; apiA_up = 1 }
#endif
	/* a controller cut off from region A */
	/* never both controllers cut off from a live A while its replication is
	 * broken (assumption A1-2) */
	:: atomic { n_part && !repl_cut -> n_part = 0;
		if :: cutA[0] = 1 :: cutA[1] = 1 fi;
		printf("MSC: Env: K%d cut off from A\n", cutA[1]) }
	/* a controller cut off from the guard, not from RDS */
	:: atomic { n_gpart -> n_gpart = 0;
		if :: cutG[0] = 1 :: cutG[1] = 1 fi;
		printf("MSC: Env: K%d cut off from the guard\n", cutG[1]) }
	/* one vantage point fooled: a controller cut off from a live A while
	 * replication from A breaks (assumption A1 dropped for one controller;
	 * the other one runs and sees A: assumption A1-2) */
	:: atomic { n_fool && dbA_alive && !cutA[0] && !cutA[1] -> n_fool = 0; repl_cut = 1;
		if :: up[1] -> cutA[0] = 1 :: up[0] -> cutA[1] = 1 fi;
		printf("MSC: Env: K%d cut off from a live A, replication from A breaks\n", cutA[1]) }
	:: atomic { cutA[0] || cutA[1] || repl_cut -> cutA[0] = 0; cutA[1] = 0; repl_cut = 0 }
	:: atomic { cutG[0] || cutG[1] -> cutG[0] = 0; cutG[1] = 0 }
	/* the operator approves the detach of the current operation (real outage only) */
	:: atomic { n_appr && outage && g_op == G_RUN && g_method == M_DETACH -> n_appr = 0;
		approved = g_epoch; printf("MSC: Env: operator approves the detach, epoch %d\n", g_epoch) }
	:: atomic { !cutA[0] && !cutA[1] && !repl_cut && !cutG[0] && !cutG[1] -> break }
	od
}

/* One controller. Each round is atomic: observe, consult the guard, at most one RDS call. */
proctype Ctl(byte k)
{
	byte vgw, vmem, vsa, tgt, res;
	bit vfs, stale, down, call;
#ifdef OLD_ALONE
	byte l_op, l_tgt = NOREG; /* this controller's own status */
#endif
	do
	/* crash (its lease, if any, runs out; its verdict ages out) and restart */
	:: atomic { up[k] && b_crash > 0 -> b_crash--; up[k] = 0;
		printf("MSC: K%d crashes\n", k) }
	:: atomic { !up[k] -> up[k] = 1; printf("MSC: K%d restarts\n", k) }
	:: atomic { up[k] ->
		if :: b_stale > 0 -> if :: stale = 1 :: stale = 0 fi :: else -> stale = 0 fi;
	d_step {
		/* ---- observe gen1 through this controller's own region ---- */
		if
		:: stale -> b_stale--; vgw = o_gw; vmem = o_mem; vsa = o_sa; vfs = o_fs
		:: else -> vgw = gw; vmem = mem; vsa = sa; vfs = fs
		fi;
		/* ---- the one-controller rules (failover.pml): probes of the writer fail,
		 * A's RDS API does not answer, no secondary hears the primary ---- */
		down = vgw == A && (vmem & BIT(A)) != 0 && vsa == 0 && !vfs &&
		       (!dbA_alive || cutA[k]) && (!apiA_up || cutA[k]) &&
		       !(dbA_alive && !repl_cut);
		call = 0; res = 0;
#ifdef OLD_ALONE
		if
		:: l_op == G_NONE && down -> l_op = G_RUN; l_tgt = NOREG;
			printf("MSC: K%d decides alone: failover of A\n", k)
		:: l_op == G_RUN && (vgw != A || vsa != 0 || vfs) -> l_op = G_DONE
		:: l_op == G_RUN && vgw == A && vsa == 0 && !vfs && !down -> l_op = G_NONE /* cancelled */
		:: l_op == G_RUN && down -> call = 1
		:: else
		fi
	} /* d_step */
		if
		:: call && l_tgt == NOREG -> if :: l_tgt = B :: l_tgt = C fi;
			printf("MSC: K%d: target %c\n", k, 65 + l_tgt)
		:: else
		fi;
		tgt = l_tgt;
	d_step {
#else
		if
		:: cutG[k] -> skip /* no guard, no action; the lease runs out */
		:: else ->
			/* publish this controller's verdict (its own probes) */
			if :: down -> pv[k] = 2 :: else -> pv[k] = 1 fi;
			if
			:: g_op == G_NONE && down && pv[PEER(k)] != 1 ->
				/* acquire: CAS(epoch == seen, op == none) */
				g_epoch++; g_holder = k; g_lease = 1; g_op = G_RUN; g_method = method;
				g_tgt = NOREG;
				printf("MSC: K%d acquires the decision, epoch %d\n", k, g_epoch)
			:: g_op == G_RUN && g_holder != k && !g_lease ->
				/* take over an expired lease: CAS(epoch == seen), same operation, same target */
				g_epoch++; g_holder = k; g_lease = 1;
				printf("MSC: K%d takes over, epoch %d\n", k, g_epoch)
			:: g_op == G_RUN && g_holder != k && g_lease ->
				/* the peer: co-sign the detach of this epoch from this vantage point */
				if
				:: down && g_method == M_DETACH && cosign[k] != g_epoch ->
					cosign[k] = g_epoch;
					printf("MSC: K%d co-signs the detach, epoch %d\n", k, g_epoch)
				:: else
				fi
			:: g_op == G_RUN && g_holder == k ->
				/* renew: CAS(epoch == mine); then the re-check of gen1, then the call */
				g_lease = 1;
				if
				:: vgw != A || vsa != 0 || vfs ->
					/* the promotion shows (ours, or the peer's of the same operation) */
					if
					:: vfs -> skip /* Aurora has not finished */
					:: else -> g_op = G_DONE; g_holder = NONE; g_lease = 0;
						printf("MSC: K%d: failover done\n", k)
					fi
				:: else ->
					if
					:: !down -> g_op = G_NONE; g_holder = NONE; g_lease = 0; g_tgt = NOREG;
						printf("MSC: K%d: the source is not down from here; cancelled\n", k)
					:: down && pv[PEER(k)] == 1 -> skip /* the peer sees A: veto, hold */
					:: down && pv[PEER(k)] != 1 && g_method == M_MANAGED -> call = 1
					:: down && pv[PEER(k)] != 1 && g_method == M_DETACH &&
#ifdef OLD_UNCORROBORATED
					   true -> call = 1
#else
					   (cosign[PEER(k)] == g_epoch || approved == g_epoch) -> call = 1
#endif
					:: else -> skip /* a detach waits for corroboration or approval */
					fi
				fi
			:: else
			fi
		fi
	} /* d_step */
		/* the target is fixed once, in the guard item, with the decision's first call */
		if
		:: call && g_tgt == NOREG -> if :: g_tgt = B :: g_tgt = C fi;
			printf("MSC: K%d: target %c (in the guard)\n", k, 65 + g_tgt)
		:: else
		fi;
		tgt = g_tgt;
	d_step {
#endif
		/* ---- the RDS call ---- */
		if
		:: call ->
			if :: b_to > 0 -> res = 1 :: else -> res = 0 fi /* a timeout may come */
		:: else
		fi
	}
		if
		:: res == 1 -> if :: res = 0 :: res = 1 :: res = 2 fi /* 1: lost, 2: applied */
		:: else
		fi;
	d_step {
		if :: res != 0 -> b_to-- :: else fi;
		if
#ifdef IN_FLIGHT
		:: call && res != 1 && fl_tgt == NOREG ->
			/* the request is on the wire; AWS applies it later (the Flight process) */
			fl_tgt = tgt; fl_k = k
#endif
		:: call && res != 1 ->
			apply_call(k, tgt)
		:: else
		fi;
		vgw = 0; vmem = 0; vsa = 0; tgt = 0; res = 0; vfs = 0; stale = 0; down = 0; call = 0
	}
	}
	od
}

init
{
	atomic { run Ctl(0); run Ctl(1) }
}

/* Property 4 (weak fairness): a real outage ends with a writer outside A and the
 * guard's operation over. */
#ifdef OLD_ALONE
ltl outage_ends { [] (outage -> <> WRITER_ELSEWHERE) }
#else
ltl outage_ends { [] (outage -> <> (WRITER_ELSEWHERE && g_op != G_RUN)) }
#endif
