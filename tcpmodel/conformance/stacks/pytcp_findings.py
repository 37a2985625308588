"""What PyTCP's FAILs mean: the findings of ``tcpmodel.conformance.stacks.pytcp`` under its profile (``pytcp``).

Kinds as ``tcpmodel.conformance.findings`` defines them: a step of RFC 9293 §3.10 without a requirement keyword
(and a lowercase "should") is a ``procedure`` departure; MUST is kept for the absolute requirements,
among them those RFC 9293 §3.10.7.4 places on stacks that implement RFC 5961, as PyTCP does.

Each comes from the failing traces of a full run and from PyTCP 0.3.8's source (paths below are
under ``pmd_pytcp/protocols/tcp/`` in site-packages). Most deviations sit in per-state packet
handlers (``fsm/tcp__fsm__<state>.py``) that accept only the segments they expect and drop the
rest without a reply. Two kinds of vector depend on PyTCP's random ISN: its ``lt32``
(``tcp__seq.py``) decides two numbers exactly 2**31 apart by their absolute values, so an ACK
2**31 from SND.UNA = SND.NXT is "too new" in some runs and not in others; the findings that
cover those vectors say which outcome each one explains (by the segment seen).
"""

from tcpmodel.conformance.findings import Finding

SYNCHRONIZED_AFTER_FIN = ("FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK")


def _each(roles_states_rest: str) -> tuple[str, ...]:
    """Both roles of a vector-name pattern: "SYN-RECEIVED.FIN.in_window" -> active.…, passive.…"""
    return (f"active.{roles_states_rest}", f"passive.{roles_states_rest}")


FINDINGS = (
    Finding(
        "synrcvd-fin-ignored", "procedure", "RFC 9293 §3.10.7.4 fifth and eighth (SYN-RECEIVED)",
        "a segment whose ACK acknowledges our SYN (SND.UNA < SEG.ACK =< SND.NXT) takes the connection to "
        "ESTABLISHED, and its FIN is then acknowledged and takes it on to CLOSE-WAIT",
        "has no branch for a FIN in SYN-RECEIVED (fsm/tcp__fsm__syn_rcvd.py completes the handshake only on a bare "
        "ACK): the FIN,ACK is dropped without a reply and the connection stays in SYN-RECEIVED, so the FIN is never "
        "acknowledged (a later CLOSE sends a FIN where that ACK was owed)",
        (*_each("rule.synrcvd_ack_fin"), *_each("SYN-RECEIVED.FIN.in_window"), *_each("SYN-RECEIVED.FIN.old_duplicate"),
         "active.rule.close_wait_segment", "active.rule.last_ack_segment"),
    ),
    Finding(
        "synrcvd-out-of-order-dropped", "MAY", "RFC 9293 §3.10.7.4 fifth (SYN-RECEIVED) and seventh (MAY-13)",
        "a segment beyond RCV.NXT that acknowledges our SYN still takes the connection to ESTABLISHED, and a TCP MAY "
        "acknowledge a valid segment that is not at the left window edge (the spec does, for text or a FIN)",
        "completes the handshake only on a bare ACK with SEG.SEQ = RCV.NXT and SEG.ACK = SND.NXT and drops any other "
        "segment in SYN-RECEIVED without a reply (fsm/tcp__fsm__syn_rcvd.py): no ACK, which MAY-13 leaves "
        "optional; by its source it also stays in SYN-RECEIVED, which these vectors do not observe",
        (*_each("SYN-RECEIVED.data.last_in_window"), *_each("SYN-RECEIVED.FIN.last_in_window"),
         *_each("rule.synrcvd_ack_out_of_order")),
    ),
    Finding(
        "synrcvd-unacceptable-not-acked", "procedure", "RFC 9293 §3.10.7.4 first (SYN-RECEIVED)",
        "a segment outside the receive window is unacceptable, and an acknowledgment should be sent in reply: "
        "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
        "makes no sequence-number check in SYN-RECEIVED (fsm/tcp__fsm__syn_rcvd.py acts only on SYNs, RSTs and the "
        "handshake's exact ACK): a segment before or beyond the window is dropped without the ACK",
        tuple(p for kind in ("ACK", "data", "FIN") for position in ("before_window", "out_of_window")
              for p in _each(f"SYN-RECEIVED.{kind}.{position}")),
    ),
    Finding(
        "synrcvd-bad-ack-not-reset", "procedure", "RFC 9293 §3.10.7.4 fifth (SYN-RECEIVED)",
        "if the segment acknowledgment is not acceptable (not SND.UNA < SEG.ACK =< SND.NXT), form a reset "
        "<SEQ=SEG.ACK><CTL=RST> and send it",
        "drops a segment whose ACK is not exactly SND.NXT without a reply in SYN-RECEIVED (fsm/tcp__fsm__syn_rcvd.py): "
        "no reset",
        tuple(p for kind in ("ACK", "data", "FIN") for position in ("unsent_ACK", "ACK_2^31_away")
              for p in _each(f"SYN-RECEIVED.{kind}.{position}")),
    ),
    Finding(
        "passive-synrcvd-syn-challenged", "procedure", "RFC 9293 §3.10.7.4 fourth (SYN-RECEIVED)",
        "if the connection was initiated with a passive OPEN, a SYN returns it to the LISTEN state, without a reply "
        "(RFC 5961's challenge ACK is for the synchronized states)",
        "answers every SYN (a SYN,ACK too) in SYN-RECEIVED with a challenge ACK and keeps the half-open connection "
        "(fsm/tcp__fsm__syn_rcvd.py, for passive and active opens alike)",
        ("passive.SYN-RECEIVED.SYN.*", "passive.SYN-RECEIVED.SYN-ACK.*"),
    ),
    Finding(
        "right-edge-accepted", "procedure", "RFC 9293 §3.10.7.4 first",
        "a segment of length 0 is acceptable only if RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND, and an unacceptable one "
        "should be answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
        "tests a segment of length 0 against the closed interval [RCV.NXT, RCV.NXT+RCV.WND] (in_range32 in "
        "session/tcp__session__validate.py), so one at SEG.SEQ = RCV.NXT+RCV.WND passes; in FIN-WAIT-1, FIN-WAIT-2, "
        "CLOSING and LAST-ACK a bare ACK not at RCV.NXT is then dropped without a reply (in ESTABLISHED and "
        "CLOSE-WAIT it is answered as out of order, so those vectors pass)",
        tuple(p for state in SYNCHRONIZED_AFTER_FIN for p in _each(f"{state}.ACK.out_of_window")),
    ),
    Finding(
        "time-wait-unchecked", "procedure", "RFC 9293 §3.10.7.4 first (TIME-WAIT)",
        "a segment outside the receive window is unacceptable in TIME-WAIT too, and an acknowledgment should be sent "
        "in reply: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
        "makes no sequence-number check in TIME-WAIT (fsm/tcp__fsm__time_wait.py answers only a retransmitted FIN, "
        "SEG.SEQ+1 = RCV.NXT, and SYNs): segments before or beyond the window and old duplicates get no ACK",
        tuple(p for kind in ("ACK", "data", "FIN") for position in ("before_window", "old_duplicate", "out_of_window")
              for p in _each(f"TIME-WAIT.{kind}.{position}")),
    ),
    Finding(
        "ack-too-new-unanswered", "MUST", "RFC 9293 §3.10.7.4 fifth",
        "if the ACK acknowledges something not yet sent (SEG.ACK > SND.NXT), send an ACK, drop the segment and "
        "return (ESTABLISHED, and FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT and CLOSING, which do the same processing; the "
        "spec does so in LAST-ACK and TIME-WAIT as well)",
        "sends that ACK only for a segment without FIN in ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSING and LAST-ACK: "
        "a FIN carrying such an ACK (every state), and any such segment in CLOSE-WAIT or TIME-WAIT, is dropped "
        "without a reply (the FIN branches of fsm/ require SND.UNA =< SEG.ACK =< SND.MAX and return otherwise)",
        (*_each("ESTABLISHED.FIN.unsent_ACK"), *_each("FIN-WAIT-1.FIN.unsent_ACK"), *_each("FIN-WAIT-1.FIN.ACK_2^31_away"),
         *_each("FIN-WAIT-2.FIN.unsent_ACK"), *_each("CLOSE-WAIT.*.unsent_ACK"), *_each("CLOSING.FIN.unsent_ACK"),
         *_each("CLOSING.FIN.ACK_2^31_away"), *_each("LAST-ACK.FIN.unsent_ACK"), *_each("LAST-ACK.FIN.ACK_2^31_away"),
         *_each("TIME-WAIT.*.unsent_ACK")),
    ),
    Finding(
        "old-ack-drops-segment", "MUST", "RFC 9293 §3.10.7.4 fifth, seventh and eighth",
        "a duplicate ACK (SEG.ACK =< SND.UNA) can be ignored and the segment's text is still delivered and "
        "acknowledged and its FIN processed and acknowledged; an ACK exactly 2**31 away is neither old nor new "
        "(RFC 1982) and the spec ignores it likewise (a stack that discards it under RFC 5961 §5 must send an ACK)",
        "processes a FIN, and text in FIN-WAIT-2, only when SND.UNA =< SEG.ACK =< SND.MAX, and otherwise drops the "
        "segment without any reply (fsm/tcp__fsm__established.py and fsm/tcp__fsm__fin_wait_2.py); for an ACK 2**31 "
        "away this is the outcome when its comparison, which depends on its random ISN there, does not call the "
        "ACK too new",
        (*_each("ESTABLISHED.FIN.ACK_2^31_away"), *_each("FIN-WAIT-2.FIN.old_duplicate"),
         *_each("FIN-WAIT-2.FIN.ACK_2^31_away"), *_each("FIN-WAIT-2.data.old_duplicate"),
         *_each("FIN-WAIT-2.data.ACK_2^31_away")),
        seen="^no segment$",
    ),
    Finding(
        "rfc5961-ack-check-partial", "MUST", "RFC 9293 §3.10.7.4 fifth (MAY-12, RFC 5961 §5)",
        "a stack that implements RFC 5961 MUST accept an ACK only within [SND.UNA - MAX.SND.WND, SND.NXT] and "
        "MUST discard any other segment with an ACK in reply",
        "sends that challenge ACK in ESTABLISHED, but in CLOSE-WAIT (and in FIN-WAIT-2 when its lt32, which "
        "decides numbers exactly 2**31 apart by their absolute values and so by its random ISN, calls the ACK "
        "too new) drops the segment without a reply",
        (*_each("CLOSE-WAIT.*.ACK_2^31_away"), *_each("FIN-WAIT-2.ACK.ACK_2^31_away")),
        seen="^no segment$",
    ),
    Finding(
        "out-of-order-not-acked", "MAY", "RFC 9293 §3.10.7.4 seventh (MAY-13)",
        "a TCP MAY send an ACK for RCV.NXT when a valid segment arrives in the window but not at its left edge (the "
        "spec sends one when the segment carries text or a FIN; RFC 5681 §4.2 recommends it for out-of-order data)",
        "acknowledges and queues out-of-order data only in ESTABLISHED: a FIN beyond RCV.NXT in ESTABLISHED, and "
        "text or a FIN beyond RCV.NXT in FIN-WAIT-1 and FIN-WAIT-2, are dropped without a reply (their handlers in "
        "fsm/ act only at SEG.SEQ = RCV.NXT)",
        (*_each("rule.established_out_of_order"), *_each("ESTABLISHED.FIN.last_in_window"),
         *_each("rule.fin_wait_1_out_of_order"), *_each("FIN-WAIT-1.data.last_in_window"),
         *_each("FIN-WAIT-1.FIN.last_in_window"), *_each("rule.fin_wait_2_out_of_order"),
         *_each("FIN-WAIT-2.data.last_in_window"), *_each("FIN-WAIT-2.FIN.last_in_window")),
    ),
    Finding(
        "empty-out-of-order-acked", "MAY", "RFC 9293 §3.10.7.4 seventh (MAY-13)",
        "a TCP MAY send an ACK when a valid segment arrives in the window but not at its left edge; the spec sends "
        "one only for a segment that occupies sequence space",
        "queues a bare ACK beyond RCV.NXT in ESTABLISHED as out-of-order and answers it with a duplicate ACK "
        "(fsm/tcp__fsm__established.py)",
        _each("ESTABLISHED.ACK.last_in_window"),
    ),
    Finding(
        "close-wait-acks-text", "procedure", "RFC 9293 §3.10.7.4 seventh (CLOSE-WAIT)",
        "text arriving in CLOSE-WAIT should not occur since a FIN has been received, and is ignored (the spec sends "
        "nothing)",
        "answers a segment in CLOSE-WAIT that carries text or starts beyond RCV.NXT with an ACK of the unchanged "
        "RCV.NXT (fsm/tcp__fsm__close_wait.py), a duplicate ACK such as MAY-13 allows for a segment beyond the "
        "left window edge",
        (*_each("CLOSE-WAIT.ACK.last_in_window"), *_each("CLOSE-WAIT.data.in_window"),
         *_each("CLOSE-WAIT.data.last_in_window")),
    ),
    Finding(
        "time-wait-rst-ignored", "MUST", "RFC 9293 §3.10.7.4 second (TIME-WAIT), RFC 5961 §3.2",
        "a RST in TIME-WAIT closes the connection, and for stacks implementing RFC 5961 (as PyTCP does in the "
        "other synchronized states) a RST in the window but not at RCV.NXT MUST be answered with a challenge ACK",
        "ignores every RST in TIME-WAIT (fsm/tcp__fsm__time_wait.py, fix F1 of RFC 1337, which is Informational): "
        "no challenge ACK, and a RST at RCV.NXT does not close it either (unobservable here)",
        (*_each("TIME-WAIT.RST.last_in_window"), *_each("TIME-WAIT.RST-ACK.last_in_window")),
    ),
    Finding(
        "time-wait-syn-reopens", "MAY", "RFC 9293 §3.6.1 (MAY-2)",
        "a TCP MAY accept a new SYN in TIME-WAIT and reopen the connection if its new ISN is larger than any "
        "sequence number of the old one; the spec does not model that and answers the SYN with an ACK",
        "reopens on a SYN with SEG.SEQ > RCV.NXT (RFC 6191 §2's test, fsm/tcp__fsm__time_wait.py): it leaves "
        "TIME-WAIT for SYN-RECEIVED and sends a SYN,ACK with a fresh ISN",
        (*_each("TIME-WAIT.SYN.last_in_window"), *_each("TIME-WAIT.SYN.out_of_window")),
    ),
    Finding(
        "fin-waits-for-ack", "procedure", "RFC 9293 §3.10.4 (CLOSE call, ESTABLISHED state)",
        "a CLOSE is queued until all preceding SENDs have been segmentized, then a FIN is formed and sent",
        "enters FIN-WAIT-1 and sends its FIN only when everything sent has been acknowledged (its ESTABLISHED timer "
        "waits for an empty TX buffer, which keeps unacknowledged data: fsm/tcp__fsm__established.py), so the FIN "
        "waits for the peer's ACK; here a tail loss probe of the data went out instead",
        _each("rule.closing_segment"),
    ),
    Finding(
        "synrcvd-fin-retransmitted-as-syn", "procedure", "RFC 9293 §3.10.4 (CLOSE call, SYN-RECEIVED state) and §3.10.8",
        "after a CLOSE in SYN-RECEIVED the FIN follows a SYN,ACK that is not yet acknowledged, and a retransmission "
        "resends that SYN,ACK first",
        "on the timeout in FIN-WAIT-1 rewinds SND.NXT to SND.UNA (the ISS) and sends a FIN,ACK with SEG.SEQ = ISS, "
        "the SYN's own sequence number, instead of the SYN,ACK, which it never retransmits once in FIN-WAIT-1 "
        "(session/tcp__session__retransmit.py, session/tcp__session__tx.py transmit_data)",
        _each("rule.fin_retransmit_syn"),
    ),
    Finding(
        "tail-loss-probe", "MAY", "RFC 8985 §7 (RACK-TLP), RFC 6298 §5",
        "a sender that implements RACK-TLP (an option: RFC 9293 does not require it) sends a tail loss probe, its "
        "last segment again, when no ACK came within about two smoothed round trips, before its retransmission "
        "timer expires; the spec, as RFC 6298, retransmits only when that timer expires (at least 1 s here)",
        "sends RFC 8985's tail loss probe about two smoothed round-trip times after the data "
        "(session/tcp__session__retransmit.py tlp_pto_tick), well before its 1 s RTO",
        ("*.rule.*",), seen=r"^<ACK SEQ=\d+ ACK=\d+ LEN=1>$",
    ),
)
