/*
 * The controller's failover and fallback protocol, as shipped (issue #17).
 * docs/protocol.md explains the actors, what is abstracted and why, the
 * properties and the assumptions; tests/model/run_spin.py checks it.
 *
 * Three regions: A (the writer at the start), B and C (secondaries of the
 * global cluster gen1). One region, A, can fail; B and C stay alive (the
 * failure of any other region is the same picture with the names swapped).
 *
 * Switches (each one puts back one rule of the planner at 73d702f; the
 * old_*.pml files set one each and must show a counterexample):
 *   OLD_RETARGET   retarget after a call was issued; a detach is seen only
 *                  through the target region's own API          (critical #2)
 *   OLD_PARTITION  probes plus "the primary's RDS API does not answer OK"
 *                  decide a failover, from the controller alone   (critical #3)
 *   OLD_RESTART    after a restart the writer's probe address and the lag
 *                  come only from live observation                (critical #1)
 *   OLD_NORECHECK  no re-check of source and writer before a re-issue (#5)
 *   OLD_DOWNGRADE  any refusal of the managed call turns into a detach, and
 *                  the detach step does not see that managed failover won (#4)
 *   OLD_FALLBACK   the fallback waits for every old member's region, even
 *                  one that left the spec                         (#7)
 * Environment switches:
 *   LIVE           liveness runs: a regional outage is permanent (never returns)
 *   NO_PATH_ASSUMPTION  drop assumption A1 (docs/protocol.md): the controller's
 *                  path to a live primary and every replication path from it
 *                  may fail together; the shipped protocol then fails over a
 *                  live primary (what one vantage point cannot tell apart)
 *   N_CRASH, N_THROTTLE, N_STALE, N_TIMEOUT, N_WRITEFAIL: fault budgets
 */

#define A 0
#define B 1
#define C 2
#define NOREG 3
#define BIT(r) (1 << (r))
#define ALL 7

#ifndef N_CRASH
#define N_CRASH 1
#endif
#ifndef N_THROTTLE
#define N_THROTTLE 1
#endif
#ifndef N_STALE
#define N_STALE 1
#endif
#ifndef N_TIMEOUT
#define N_TIMEOUT 1
#endif
#ifndef N_WRITEFAIL
#define N_WRITEFAIL 1
#endif
#ifndef CRASH_IN_OUTAGE
#define CRASH_IN_OUTAGE 0 /* 1: the controller restarts only during an outage */
#endif
/* which other faults the environment may inject (1) or not (0) */
#ifndef F_OUTAGE
#define F_OUTAGE 1    /* a real regional outage of A */
#endif
#ifndef F_PART
#define F_PART 1      /* the controller cut off from one region */
#endif
#ifndef F_REPL
#define F_REPL 1      /* replication from a live A breaks */
#endif
#ifndef F_DENIED
#define F_DENIED 1    /* A's RDS API answers AccessDenied */
#endif
#ifndef F_EXT
#define F_EXT 1       /* a human fails over in the console */
#endif
#ifndef F_SPEC
#define F_SPEC 1      /* the operator removes A from the spec */
#endif
#ifndef F_METHODS
#define F_METHODS 1   /* 1: every failover method; 0: Auto only */
#endif

/* region A's database */
#define DB_ALIVE 0
#define DB_DEAD 1
#define DB_FROZEN 2
#define DB_FENCED 3
/* region A's RDS control plane (as its own region sees it) */
#define API_UP 0
#define API_DOWN 1   /* unreachable, timeout, 5xx */
#define API_DENIED 2 /* answers, with AccessDenied (an IAM/SCP change) */

/* failover method from the spec */
#define M_MANAGED 0
#define M_DETACH 1
#define M_AUTO 2

/* operation types and steps (a subset of pkg/globaldb/types.h) */
#define OP_NONE 0
#define OP_FO 1
#define OP_FB 2
#define S_NONE 0
#define S_FO_MANAGED 1
#define S_WAIT_FO 2
#define S_DETACH 3
#define S_WAIT_PROMOTED 4
#define S_DNS 5
#define S_WAIT_DNS 6
#define S_FB_DELOLD 7

/* AWS call kinds and results */
#define K_NONE 0
#define K_FAILOVER 1 /* FailoverGlobalCluster --allow-data-loss, in the target's region */
#define K_DETACH 2   /* RemoveFromGlobalCluster of the target (detach and promote) */
#define K_DNS 3      /* Route 53 UPSERT of the writer CNAME */
#define K_RETIRE 4   /* fallback: remove a stale member from gen1 and delete it */
#define K_DELG 5     /* fallback: DeleteGlobalCluster gen1 */
#define R_NONE 0
#define R_OK 1
#define R_THROTTLED 2
#define R_TIMEOUT 3
#define R_UNREACH 4
#define R_BUSY 5    /* InvalidGlobalClusterStateFault: another operation runs */
#define R_PERM 6    /* a permanent refusal (e.g. engine versions): managed cannot work */
#define R_REFUSED 7 /* not a (secondary) member, a primary with secondaries, ... */

/* ---------------- the world: AWS, databases, network, Route 53 ---------------- */

bit g1 = 1;        /* gen1 exists */
byte mem = ALL;    /* gen1's members */
byte gw = A;       /* gen1's primary */
bit fs;            /* FailoverState present: a managed failover runs */
byte fs_tgt = NOREG;
bit fs_ctrl;       /* that failover was called by the controller */
byte sa;           /* standalone (detached, promoted, writable) clusters */
byte gone;         /* clusters retired by the fallback (fenced and deleted) */
/* the world as it was before its last change: what a stale answer shows */
bit o_g1 = 1;
byte o_mem = ALL, o_gw = A, o_sa;
bit o_fs;

byte dbA = DB_ALIVE;
byte apiA = API_UP;
bit repl_cut;      /* A alive, replication from A to the secondaries broken */
byte part;         /* the controller is cut off from region r */
byte method;
bit managed_ok = 1;
bit specA = 1;     /* region A is in spec.regions */

byte cname = A, cprev = A; /* Route 53: the writer CNAME and its previous value */
bit csettled = 1;          /* INSYNC and the TTL passed: no client still uses cprev */

bit elapsed = 1;   /* the settle window / backoff since the step's last call passed */

/* one-shot faults, armed by the environment and used by the next matching event */
/* fault budgets, spent by the round that meets the fault (the choice is made
 * there, which saves the interleavings of arming a fault long before) */
byte b_thr = N_THROTTLE;   /* a call to a region's RDS API is throttled */
byte b_stale = N_STALE;    /* an answer comes from the stale view / cache */
byte b_to = N_TIMEOUT;     /* an AWS call times out, applied or not */
byte b_wf = N_WRITEFAIL;   /* a status write fails */
byte crashes;

/* ghosts, for the properties */
bit outage;        /* a real regional outage of A */
bit ext_moved;     /* a human moved the writer (console, ARC) */
bit returned;
byte op_promos;    /* promotions caused by the current operation's calls */

/* ---------------- the controller's persisted status ---------------- */

byte st_op, st_step, st_src = NOREG, st_tgt = NOREG, st_method;
byte st_calls;     /* AWS calls issued (write-ahead) in this whole operation, capped at 2 */
bit st_issued;     /* this step issued its call (attempts > 0 and lastAction set) */
byte st_wr = A;    /* status.writerEndpoint / currentPrimaryRegion */
bit st_wm = 1;     /* the heartbeat watermark persisted in status */
bit st_g1need;     /* a detach failover left gen1 behind: fallback due */

/* the controller's memory (lost on a crash) */
bit m_wa = 1;      /* a probe target for the writer exists */
bit m_lag = 1;     /* a replication lag is known (heartbeat ring) */
byte m_res;        /* the result of the last call */

#define ALIVE(r) ((r) != A || dbA == DB_ALIVE)
#define CP_UP(r) ((r) != A || apiA != API_DOWN)
#define INSPEC(r) ((r) != A || specA)
#define WRITABLE(r) ((gone & BIT(r)) == 0 && ALIVE(r) && \
		     ((sa & BIT(r)) != 0 || (g1 && gw == (r) && (mem & BIT(r)) != 0)))
#define CANPOINT(r) (cname == (r) || (!csettled && cprev == (r)))
#define W2(x, y) (WRITABLE(x) && WRITABLE(y) && CANPOINT(x) && CANPOINT(y))
#define TWO_WRITERS (W2(A, B) || W2(A, C) || W2(B, C))
#define HEARS(s) (g1 && (mem & BIT(s)) != 0 && (s) != gw && ALIVE(gw) && \
		  !(gw == A && repl_cut) && (sa & BIT(s)) == 0)
#define WRITER_ELSEWHERE ((g1 && gw != A) || sa != 0)

/* t := a region of mask m (not empty): the first in the order pick chooses */
#define choose(m, t) \
	if \
	:: pick == 0 && ((m) & BIT(A)) != 0 -> t = A \
	:: pick == 0 && ((m) & BIT(A)) == 0 && ((m) & BIT(B)) != 0 -> t = B \
	:: pick == 0 && ((m) & (BIT(A) | BIT(B))) == 0 -> t = C \
	:: pick != 0 && ((m) & BIT(C)) != 0 -> t = C \
	:: pick != 0 && ((m) & BIT(C)) == 0 && ((m) & BIT(B)) != 0 -> t = B \
	:: pick != 0 && ((m) & (BIT(C) | BIT(B))) == 0 -> t = A \
	fi

/* Property 3: no data-losing action against a live writer that its own
 * region's control plane reaches (checked where AWS accepts the call) */
inline DATA_LOSS_CHECK()
{
	if
	:: ALIVE(gw) && CP_UP(gw) ->
		printf("MSC: VIOLATION: data-losing call while the writer %c is alive and its region's RDS answers\n", 65 + gw)
	:: else
	fi;
	assert(!(ALIVE(gw) && CP_UP(gw)))
}

inline snap()
{
	o_g1 = g1; o_mem = mem; o_gw = gw; o_fs = fs; o_sa = sa
}

/* Property 1: never two clusters accepting writes while the CNAME can point at either. */
active proctype Monitor()
{
	atomic {
		TWO_WRITERS ->
		printf("MSC: VIOLATION: two clusters accept writes and the CNAME can point at both\n");
		assert(!TWO_WRITERS)
	}
}

/* Aurora finishes a managed failover: the target becomes the primary; the old
 * primary is demoted (fenced) by AWS now or, if unreachable, when it returns. */
active proctype Aurora()
{
	do
	:: atomic {
		fs ->
		printf("MSC: Aurora: managed failover done, writer %c\n", 65 + fs_tgt);
		snap();
		gw = fs_tgt;
		if
		:: fs_ctrl ->
			op_promos++;
			/* Property 2: never a second promotion for one operation */
			if :: op_promos > 1 -> printf("MSC: VIOLATION: a second promotion in one operation\n") :: else fi;
			assert(op_promos <= 1)
		:: else
		fi;
		fs = 0; fs_tgt = NOREG; fs_ctrl = 0
	}
	od
}

/* Route 53 reports INSYNC and the TTL runs out. */
active proctype Route53()
{
	do
	:: atomic { !csettled -> csettled = 1 }
	od
}

/* Time passes: the settle window (30 s) or the backoff since the last call ends. */
active proctype Clock()
{
	do
	:: atomic { !elapsed -> elapsed = 1 }
	od
}

/* The environment: faults, a human at the console, the operator's spec edits. */
active proctype Env()
{
	bit n_part = F_PART, n_repl = F_REPL, n_denied = F_DENIED, n_ext = F_EXT;

	atomic {
		if
#if F_METHODS
		:: method = M_MANAGED
		:: method = M_DETACH
#endif
		:: method = M_AUTO
		:: method = M_AUTO; managed_ok = 0
		fi
	}
	do
	/* a real regional outage: A's database dies or freezes, its RDS API is down,
	 * nothing replicates from it */
	:: atomic { F_OUTAGE && !outage && !returned ->
		printf("MSC: Env: regional outage of A\n");
		outage = 1; apiA = API_DOWN;
		if :: dbA = DB_DEAD :: dbA = DB_FROZEN fi }
#ifndef LIVE
	/* region A returns (a frozen database with its writes) — not while a
	 * promotion of the current operation is in flight or done: the outage
	 * outlasts the failover (assumption A3) */
	:: atomic { outage && op_promos == 0 && !fs &&
#ifndef NO_PATH_ASSUMPTION
		!(repl_cut && (part & BIT(A)) != 0) &&
#endif
		true ->
		printf("MSC: Env: region A returns\n");
		outage = 0; returned = 1; apiA = API_UP;
		if :: dbA == DB_FROZEN -> dbA = DB_ALIVE :: else fi }
#endif
	/* the controller is cut off from one region (primary alive or not) */
	:: atomic { n_part && part == 0 ->
		n_part = 0;
		if
		:: part = BIT(A)
#ifndef NO_PATH_ASSUMPTION
			; if :: repl_cut && dbA == DB_ALIVE -> part = 0 :: else fi
#endif
		:: part = BIT(B)
		:: part = BIT(C)
		fi;
		printf("MSC: Env: controller cut off from %c\n", (part == BIT(A) -> 65 : (part == BIT(B) -> 66 : 67))) }
	:: atomic { part != 0 -> part = 0 }
	/* replication from a live A to every secondary breaks */
	:: atomic { n_repl && dbA == DB_ALIVE ->
#ifndef NO_PATH_ASSUMPTION
		(part & BIT(A)) == 0 ->
#endif
		printf("MSC: Env: replication from A breaks\n");
		n_repl = 0; repl_cut = 1 }
	:: atomic { repl_cut -> repl_cut = 0 }
	/* A's RDS API answers AccessDenied (an IAM change), the database is fine */
	:: atomic { n_denied && apiA == API_UP && dbA == DB_ALIVE -> n_denied = 0; apiA = API_DENIED }
	:: atomic { apiA == API_DENIED -> apiA = API_UP }
	/* during an outage a human fails over to C in the console (AWS fences A) */
	:: atomic { n_ext && outage && g1 && gw == A && !fs && (mem & BIT(C)) && sa == 0 ->
		printf("MSC: Env: a human fails over to C\n");
		n_ext = 0; ext_moved = 1; snap(); gw = C }
	/* the operator removes the lost region from the spec, after the failover */
	:: atomic { F_SPEC && specA && outage && WRITER_ELSEWHERE && st_op != OP_FO ->
		printf("MSC: Env: operator removes A from spec.regions\n");
		specA = 0 }
	/* no more faults (transient ones healed) */
	:: atomic { part == 0 && !repl_cut && apiA != API_DENIED -> break }
	od
}

/* ---------------- the controller ---------------- */

active proctype Controller()
{
	/* one round's view (reset at the end of each round) */
	byte it, r, s, w, n, k, ans, seen, osa, vmem, vgw, miss, thrd, cand, act, atgt, res;
	bit vglob, vfs, wsa, pfail, conf, nobody, observed, failok, again, detached, held, allowed;
	/* the status as read at the start of the round */
	byte sv_op, sv_step, sv_src, sv_tgt, sv_method, sv_calls, sv_wr;
	bit sv_issued, sv_g1need;
	/* the round's nondeterminism: each choice is made where it matters, and
	 * the deterministic parts between the choices are d_steps */
	byte stale_r = NOREG, thr_r = NOREG, pick, ck, to_r;
	bit wfr;

	do
	:: atomic {
		if
		:: b_stale > 0 -> if :: stale_r = A :: stale_r = B :: stale_r = C :: stale_r = NOREG fi
		:: else -> stale_r = NOREG
		fi;
		if
		:: b_thr > 0 -> if :: thr_r = A :: thr_r = B :: thr_r = C :: thr_r = NOREG fi
		:: else -> thr_r = NOREG
		fi;
	d_step {
		/* ---- observe: each spec region's RDS API, fresh or from the stale view ---- */
		r = 0;
		do
		:: r < 3 ->
			if
			:: !INSPEC(r) || (part & BIT(r)) != 0 || (r == A && apiA != API_UP) -> skip
			:: else ->
				if
				:: thr_r == r -> b_thr--; thrd = thrd | BIT(r)
				:: else ->
					ans = ans | BIT(r);
					if
					:: (gone & BIT(r)) == 0 -> seen = seen | BIT(r)
					:: else
					fi;
					if
					:: stale_r == r ->
						b_stale--;
						osa = osa | (o_sa & BIT(r));
						if
						:: o_g1 ->
							miss = miss | (ALL & ~o_mem);
							if
							:: !vglob -> vglob = 1; vmem = o_mem; vgw = o_gw; vfs = o_fs
							:: else
							fi
						:: else
						fi
					:: else ->
						osa = osa | (sa & BIT(r));
						if
						:: g1 ->
							miss = miss | (ALL & ~mem);
							if
							:: !vglob -> vglob = 1; vmem = mem; vgw = gw; vfs = fs
							:: else
							fi
						:: else
						fi
					fi
				fi
			fi;
			r++
		:: else -> break
		od;

		/* ---- the writer (derive_writer) ---- */
		if
		:: (seen & BIT(st_wr)) != 0 && (osa & BIT(st_wr)) != 0 && (vmem & BIT(st_wr)) == 0 ->
			w = st_wr; wsa = 1
		:: else ->
			if
			:: vglob -> w = vgw
			:: else -> w = st_wr
			fi
		fi;

		/* ---- the controller's memory after a restart ---- */
#ifdef OLD_RESTART
		/* the probe address comes only from a live Describe of the writer's region */
		if :: !m_wa && (ans & BIT(w)) != 0 -> m_wa = 1 :: else fi;
		/* the heartbeat ring refills only while the writer acknowledges writes */
		if
		:: !m_lag && m_wa && ALIVE(w) && (part & BIT(w)) == 0 &&
		   (HEARS(A) || HEARS(B) || HEARS(C)) -> m_lag = 1
		:: else
		fi;
#endif

		/* ---- the failover rules (failover_target) ---- */
		pfail = m_wa && (!ALIVE(w) || (part & BIT(w)) != 0);
#ifdef OLD_PARTITION
		/* "confirmation": any answer of the primary's API but OK/available or throttled */
		conf = (thrd & BIT(w)) == 0 &&
		       ((part & BIT(w)) != 0 || (w == A && apiA != API_UP) ||
			((ans & BIT(w)) != 0 && !ALIVE(w)));
		failok = pfail && conf;
#else
		/* only unreachable/timeout/5xx confirm; and no secondary still hears the primary */
		conf = (part & BIT(w)) != 0 || (w == A && apiA == API_DOWN);
		nobody = 1; observed = 0;
		s = 0;
		do
		:: s < 3 ->
			if
			:: s != w && INSPEC(s) && (vmem & BIT(s)) != 0 && (part & BIT(s)) == 0 ->
				observed = 1;
				if :: HEARS(s) -> nobody = 0 :: else fi
			:: else
			fi;
			s++
		:: else -> break
		od;
		failok = pfail && conf && nobody && observed;
#endif
		/* candidates: available members of gen1 with healthy readers and a known lag */
		if
		:: failok && vglob && !wsa && m_lag ->
			s = 0;
			do
			:: s < 3 ->
				if
				:: s != w && INSPEC(s) && (seen & BIT(s)) != 0 && (osa & BIT(s)) == 0 &&
				   (vmem & BIT(s)) != 0 && (part & BIT(s)) == 0 -> cand = cand | BIT(s)
				:: else
				fi;
				s++
			:: else -> break
			od
		:: else
		fi;

	} /* d_step: observed */
		if
		:: cand != 0 && (cand & (cand - 1)) != 0 -> if :: pick = 0 :: pick = 1 fi
		:: else -> pick = 0
		fi;
	d_step {
		/* ---- plan: the status is read here and written once at the end ---- */
		sv_op = st_op; sv_step = st_step; sv_src = st_src; sv_tgt = st_tgt;
		sv_method = st_method; sv_calls = st_calls; sv_wr = st_wr;
		sv_issued = st_issued; sv_g1need = st_g1need;
		act = K_NONE; atgt = NOREG;
		again = 1;
		do
		:: !again -> break
		:: else ->
			again = 0;
			it++;
			assert(it < 8); /* the planner's steps never loop within one round */
			if
			:: st_op == OP_NONE && st_g1need ->
				/* consider_fallback: rebuild after a detach */
				st_op = OP_FB; st_step = S_FB_DELOLD; st_issued = 0; st_calls = 0;
				again = 1
			:: st_op == OP_NONE && !st_g1need && cand != 0 ->
				/* consider_failover: start the operation (mode Automatic) */
				st_op = OP_FO; st_src = w; st_calls = 0; st_issued = 0;
				choose(cand, st_tgt);
				printf("MSC: Controller: failover decided, %c to %c\n", 65 + w, 65 + st_tgt);
				if
				:: method == M_DETACH -> st_method = M_DETACH; st_step = S_DETACH
				:: else -> st_method = M_MANAGED; st_step = S_FO_MANAGED
				fi;
				again = 1
			:: st_op == OP_NONE && !st_g1need && cand == 0 -> skip

			:: st_op == OP_FO && st_step == S_FO_MANAGED ->
				held = st_issued && !elapsed;
				if
				:: vglob && (w == st_tgt || vfs) -> st_step = S_WAIT_FO; st_issued = 0; again = 1
#ifdef OLD_DOWNGRADE
				:: method == M_AUTO && (m_res == R_BUSY || m_res == R_PERM || m_res == R_REFUSED) ->
#else
				:: method == M_AUTO && m_res == R_PERM ->
#endif
					st_method = M_DETACH; st_step = S_DETACH; st_issued = 0; m_res = R_NONE;
					again = 1
				:: else ->
					if
					:: held -> skip
					:: else -> act = K_FAILOVER
					fi
				fi
			:: st_op == OP_FO && st_step == S_WAIT_FO ->
				if
				:: vglob && vfs -> skip
				:: vglob && !vfs && w == st_tgt && (seen & BIT(st_tgt)) != 0 ->
					st_wr = st_tgt; st_step = S_DNS; st_issued = 0; again = 1
				:: vglob && !vfs && w == st_tgt && (seen & BIT(st_tgt)) == 0 ->
					skip /* waiting for the new writer to be visible */
				:: else ->
					if
					:: !elapsed -> skip
					:: else -> st_step = S_FO_MANAGED; st_issued = 0; again = 1
					fi
				fi
			:: st_op == OP_FO && st_step == S_DETACH ->
#ifdef OLD_RETARGET
				detached = (seen & BIT(st_tgt)) != 0 && (osa & BIT(st_tgt)) != 0 &&
					   (vmem & BIT(st_tgt)) == 0;
#else
				/* missing from gen1's member list as seen from any region counts */
				detached = ((seen & BIT(st_tgt)) != 0 && (osa & BIT(st_tgt)) != 0 &&
					    (vmem & BIT(st_tgt)) == 0) || (miss & BIT(st_tgt)) != 0;
#endif
				held = st_issued && !elapsed;
				if
#ifndef OLD_DOWNGRADE
				/* the managed failover won (an earlier call, or Aurora) */
				:: vglob && ((w == st_tgt && (osa & BIT(st_tgt)) == 0) || vfs) ->
					st_step = S_WAIT_FO; st_issued = 0; again = 1
#endif
				:: else ->
					if
					:: detached -> st_step = S_WAIT_PROMOTED; st_issued = 0; again = 1
					:: !detached && held -> skip
					:: !detached && !held -> act = K_DETACH
					fi
				fi
			:: st_op == OP_FO && st_step == S_WAIT_PROMOTED ->
#ifdef OLD_RETARGET
				detached = (seen & BIT(st_tgt)) != 0 && (osa & BIT(st_tgt)) != 0 &&
					   (vmem & BIT(st_tgt)) == 0;
#else
				detached = ((seen & BIT(st_tgt)) != 0 && (osa & BIT(st_tgt)) != 0 &&
					    (vmem & BIT(st_tgt)) == 0) || (miss & BIT(st_tgt)) != 0;
#endif
				if
				:: !detached -> st_step = S_DETACH; st_issued = 0; again = 1
				:: detached && ((seen & BIT(st_tgt)) == 0 || (osa & BIT(st_tgt)) == 0) -> skip
				:: detached && (seen & BIT(st_tgt)) != 0 && (osa & BIT(st_tgt)) != 0 ->
					st_wr = st_tgt; st_g1need = 1; st_step = S_DNS; st_issued = 0;
					again = 1
				fi
			:: st_op == OP_FO && st_step == S_DNS -> act = K_DNS
			:: st_op == OP_FO && st_step == S_WAIT_DNS ->
				if
				:: cname != st_tgt -> st_step = S_DNS; again = 1
				:: cname == st_tgt && !csettled -> skip
				:: cname == st_tgt && csettled ->
					printf("MSC: Controller: failover to %c completed\n", 65 + st_tgt);
					st_op = OP_NONE; st_step = S_NONE; st_src = NOREG; st_tgt = NOREG;
					st_calls = 0; st_issued = 0
				fi

			:: st_op == OP_FB && st_step == S_FB_DELOLD ->
				/* DeleteOldGlobalCluster: retire gen1's members, secondaries first */
				if
				:: !vglob && (ans != 0) ->
					/* gen1 is gone */
					st_op = OP_NONE; st_step = S_NONE; st_g1need = 0; st_calls = 0; st_issued = 0
				:: !vglob && ans == 0 -> skip
				:: vglob ->
					/* n: wait for a member's region; k: members outside the spec */
					n = 0; k = 0; s = NOREG;
					r = 0;
					do
					:: r < 3 ->
						if
						:: (vmem & BIT(r)) != 0 && r != vgw ->
							if
							:: !INSPEC(r) ->
#ifdef OLD_FALLBACK
								n = 1 /* api_ok() is never true for it: wait */
#else
								k = 1 /* does not block; reported */
#endif
							:: INSPEC(r) && (ans & BIT(r)) == 0 -> n = 1
							:: INSPEC(r) && (ans & BIT(r)) != 0 && s == NOREG -> s = r
							:: INSPEC(r) && (ans & BIT(r)) != 0 && s != NOREG -> skip
							fi
						:: else
						fi;
						r++
					:: else -> break
					od;
					if
					:: n == 0 && s == NOREG && (vmem & BIT(vgw)) != 0 ->
						if
						:: !INSPEC(vgw) ->
#ifdef OLD_FALLBACK
							n = 1
#else
							k = 1
#endif
						:: INSPEC(vgw) && (ans & BIT(vgw)) == 0 -> n = 1
						:: INSPEC(vgw) && (ans & BIT(vgw)) != 0 && k == 0 -> s = vgw
						:: INSPEC(vgw) && (ans & BIT(vgw)) != 0 && k != 0 -> skip
						fi
					:: else
					fi;
					held = st_issued && !elapsed;
					if
					:: n != 0 -> skip /* waiting for a region to answer */
					:: n == 0 && s != NOREG && held -> skip
					:: n == 0 && s != NOREG && !held -> act = K_RETIRE; atgt = s
					:: n == 0 && s == NOREG && vmem == 0 && held -> skip
					:: n == 0 && s == NOREG && vmem == 0 && !held -> act = K_DELG
					:: n == 0 && s == NOREG && vmem != 0 ->
						/* only members outside the spec are left: the rebuild goes on,
						 * gen1 stays with them (Degraded/OldGlobalClusterNotDeleted) */
						printf("MSC: Controller: fallback done; gen1 kept with members outside the spec\n");
						st_op = OP_NONE; st_step = S_NONE; st_g1need = 0; st_calls = 0; st_issued = 0
					fi
				fi
			:: else -> skip
			fi;

			/* ---- before a failover call: retarget or re-check ---- */
			if
			:: act == K_FAILOVER || act == K_DETACH ->
				if
				:: (seen & BIT(st_tgt)) == 0 || !vglob ->
					/* target_unavailable: the target is not visible */
					act = K_NONE;
#ifdef OLD_RETARGET
					allowed = 1;
#else
					allowed = st_calls == 0; /* no AWS call in the whole operation */
#endif
					if
					:: allowed && (cand & ~BIT(st_tgt)) != 0 ->
						choose(cand & ~BIT(st_tgt), st_tgt);
						printf("MSC: Controller: FailoverRetargeted to %c\n", 65 + st_tgt);
						st_issued = 0; again = 1
					:: else -> skip /* FailoverTargetUnavailable: wait */
					fi
#ifndef OLD_NORECHECK
				:: (seen & BIT(st_tgt)) != 0 && vglob && w != st_src && w == st_tgt ->
					act = K_NONE /* our own promotion shows: the step sees it next round */
				:: (seen & BIT(st_tgt)) != 0 && vglob && w != st_src && w != st_tgt ->
					/* the writer moved elsewhere: end the operation, no second promotion */
					printf("MSC: Controller: writer moved externally; operation ends\n");
					act = K_NONE;
					st_op = OP_NONE; st_step = S_NONE; st_src = NOREG; st_tgt = NOREG;
					st_calls = 0; st_issued = 0
				:: (seen & BIT(st_tgt)) != 0 && vglob && w == st_src && m_wa && !pfail ->
					/* the source answers its probes again: cancelled */
					printf("MSC: Controller: source healthy again; operation cancelled\n");
					act = K_NONE;
					st_op = OP_NONE; st_step = S_NONE; st_src = NOREG; st_tgt = NOREG;
					st_calls = 0; st_issued = 0
				:: (seen & BIT(st_tgt)) != 0 && vglob && w == st_src && !(m_wa && !pfail) && !failok ->
					act = K_NONE /* the rules do not hold now: hold, do not call */
				:: (seen & BIT(st_tgt)) != 0 && vglob && w == st_src && failok -> skip
#else
				:: else -> skip
#endif
				fi
			:: else
			fi;
			if
			:: again -> act = K_NONE
			:: else
			fi
		od;
		it = 0;
		if
		:: act == K_FAILOVER || act == K_DETACH || act == K_DNS -> atgt = st_tgt
		:: else
		fi;
		/* write-ahead: the record of the call goes to the status before the call */
		if
		:: act != K_NONE ->
			st_issued = 1; elapsed = 0;
			if :: st_calls < 2 -> st_calls++ :: else fi;
			if :: act == K_DNS -> st_step = S_WAIT_DNS :: else fi
		:: else
		fi;

	} /* d_step: planned */
		if
		:: b_wf > 0 -> if :: wfr = 0 :: wfr = 1 fi
		:: else -> wfr = 0
		fi;
		if
		:: crashes < N_CRASH && (!CRASH_IN_OUTAGE || outage) && act != K_NONE ->
			if :: ck = 0 :: ck = 1 :: ck = 2 :: ck = 3 fi
		:: crashes < N_CRASH && (!CRASH_IN_OUTAGE || outage) && act == K_NONE ->
			if :: ck = 0 :: ck = 1 fi
		:: else -> ck = 0
		fi;
		if
		:: b_to > 0 && act != K_NONE && act != K_DNS -> if :: to_r = 0 :: to_r = 1 :: to_r = 2 fi
		:: else -> to_r = 0
		fi;
	d_step {
		/* ---- the status write, the call, and a crash anywhere around them ---- */
		if
		:: wfr ->
			/* the status write fails: the round's decisions are lost, no call */
			b_wf--; act = K_NONE;
			st_op = sv_op; st_step = sv_step; st_src = sv_src; st_tgt = sv_tgt;
			st_method = sv_method; st_calls = sv_calls; st_wr = sv_wr;
			st_issued = sv_issued; st_g1need = sv_g1need
		:: !wfr && ck == 1 ->
			/* crash before the status write */
			crashes++; act = K_NONE;
			st_op = sv_op; st_step = sv_step; st_src = sv_src; st_tgt = sv_tgt;
			st_method = sv_method; st_calls = sv_calls; st_wr = sv_wr;
			st_issued = sv_issued; st_g1need = sv_g1need;
			n = 1
		:: !wfr && ck == 2 && act != K_NONE ->
			/* crash after the status write, before the call */
			crashes++; act = K_NONE; n = 1
		:: !wfr && ck == 3 && act != K_NONE ->
			/* crash right after the call */
			crashes++; n = 2
		:: else -> n = 0
		fi;

		/* ---- the AWS call ---- */
		if
		:: act != K_NONE ->
			if
			:: act == K_FAILOVER || act == K_DETACH || act == K_RETIRE ->
				if
				:: (part & BIT(atgt)) != 0 || (atgt == A && apiA != API_UP) -> res = R_UNREACH
				:: else ->
					if
					:: thr_r == atgt && (thrd & BIT(atgt)) == 0 -> b_thr--; res = R_THROTTLED
					:: else -> res = R_OK
					fi
				fi
			:: else -> res = R_OK
			fi;
			if
			:: res == R_OK && to_r != 0 -> b_to--; res = R_TIMEOUT;
				r = to_r - 1; /* applied (1) or lost (0) */
				printf("MSC: AWS: the call to %c times out (applied: %d)\n", 65 + atgt, r)
			:: res == R_OK -> r = 1
			:: res != R_OK -> r = 0
			fi;
			if
			:: r == 1 && act == K_FAILOVER ->
				printf("MSC: AWS: FailoverGlobalCluster(%c), AllowDataLoss\n", 65 + atgt);
				if
				:: !g1 -> res = R_REFUSED
				:: g1 && fs -> res = R_BUSY
				:: g1 && !fs && !managed_ok -> res = R_PERM
				:: g1 && !fs && managed_ok &&
				   ((mem & BIT(atgt)) == 0 || gw == atgt || (gone & BIT(atgt)) != 0) -> res = R_REFUSED
				:: g1 && !fs && managed_ok && (mem & BIT(atgt)) != 0 && gw != atgt && (gone & BIT(atgt)) == 0 ->
					/* Property 3: no data-losing action against a live primary
					 * that its own region's control plane reaches */
					DATA_LOSS_CHECK();
					snap(); fs = 1; fs_tgt = atgt; fs_ctrl = 1
				fi
			:: r == 1 && act == K_DETACH ->
				printf("MSC: AWS: RemoveFromGlobalCluster(%c)\n", 65 + atgt);
				if
				:: !g1 -> res = R_REFUSED
				:: g1 && fs -> res = R_BUSY
				:: g1 && !fs && (mem & BIT(atgt)) == 0 -> res = R_REFUSED
				:: g1 && !fs && (mem & BIT(atgt)) != 0 && gw == atgt && mem != BIT(atgt) -> res = R_REFUSED
				:: g1 && !fs && (mem & BIT(atgt)) != 0 && gw == atgt && mem == BIT(atgt) ->
					snap(); mem = 0; sa = sa | BIT(atgt) /* the writer leaves: no promotion */
				:: g1 && !fs && (mem & BIT(atgt)) != 0 && gw != atgt ->
					DATA_LOSS_CHECK();
					snap(); mem = mem & ~BIT(atgt); sa = sa | BIT(atgt);
					op_promos++;
					if :: op_promos > 1 -> printf("MSC: VIOLATION: a second promotion in one operation\n") :: else fi;
					assert(op_promos <= 1)
				fi
			:: r == 1 && act == K_DNS ->
				printf("MSC: Route53: writer CNAME -> %c\n", 65 + atgt);
				if
				:: cname != atgt -> cprev = cname; cname = atgt; csettled = 0
				:: else
				fi
			:: r == 1 && act == K_RETIRE ->
				printf("MSC: AWS: fallback retires %c\n", 65 + atgt);
				if
				:: !g1 || (mem & BIT(atgt)) == 0 -> res = R_REFUSED
				:: g1 && (mem & BIT(atgt)) != 0 && gw == atgt && mem != BIT(atgt) -> res = R_REFUSED
				:: else -> snap(); mem = mem & ~BIT(atgt); gone = gone | BIT(atgt);
					if :: atgt == A -> dbA = DB_FENCED :: else fi
				fi
			:: r == 1 && act == K_DELG ->
				if
				:: mem != 0 -> res = R_REFUSED
				:: else -> printf("MSC: AWS: DeleteGlobalCluster gen1\n"); snap(); g1 = 0
				fi
			:: else
			fi
		:: else
		fi;

		/* ---- after the call: the result, or a restart ---- */
		if
		:: n != 0 ->
			if
			:: n == 1 && act == K_NONE && ck == 1 -> printf("MSC: Controller: crash before the status write\n")
			:: n == 1 && !(act == K_NONE && ck == 1) -> printf("MSC: Controller: crash after the status write, before the call\n")
			:: n == 2 -> printf("MSC: Controller: crash right after the call\n")
			:: else
			fi;
			m_res = R_NONE;
#ifdef OLD_RESTART
			m_wa = 0; m_lag = 0
#else
			/* the writer endpoint and the heartbeat watermark come from status */
			m_wa = 1; m_lag = st_wm
#endif
			;
			printf("MSC: Controller: restarted; writer probe target %d, lag known %d\n", m_wa, m_lag)
		:: else ->
			if :: act != K_NONE -> m_res = res :: else fi
		fi;

		/* ghost: promotions are counted per operation */
		if :: st_op != OP_FO && !fs -> op_promos = 0 :: else fi;

		/* forget the round's view */
		r = 0; s = 0; w = 0; n = 0; k = 0; ans = 0; seen = 0; osa = 0; vmem = 0; vgw = 0; miss = 0;
		thrd = 0; cand = 0; act = 0; atgt = 0; res = 0; vglob = 0; vfs = 0; wsa = 0;
		pfail = 0; conf = 0; nobody = 0; observed = 0; failok = 0; again = 0;
		detached = 0; held = 0; allowed = 0;
		sv_op = 0; sv_step = 0; sv_src = 0; sv_tgt = 0; sv_method = 0; sv_calls = 0;
		sv_wr = 0; sv_issued = 0; sv_g1need = 0;
		stale_r = NOREG; thr_r = NOREG; pick = 0; ck = 0; to_r = 0; wfr = 0
	}
	}
	od
}

/* Liveness (checked with pan -a -f: weak fairness) */
/* Property 4: a real regional outage ends with a writer elsewhere, the failover
 * operation over and the CNAME on the new writer (or a human moved it). */
ltl outage_ends { [] (outage -> <> (st_op != OP_FO && WRITER_ELSEWHERE &&
				     (ext_moved || (cname != A && csettled)))) }
/* Property 5: a fallback whose region never returns ends once that region
 * leaves the spec. */
ltl fallback_ends { [] ((st_op == OP_FB && !specA) -> <> (st_op != OP_FB)) }
