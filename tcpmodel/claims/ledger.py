"""The report's ledger: facts about every endpoint step of an exploration, gathered as it runs."""

from __future__ import annotations

from tcpmodel.base.flags import ACK, FIN, RST, SYN, flag_names
from tcpmodel.base.seqnum import seq_add, seq_gt, seq_le
from tcpmodel.language.spec import Spec
from tcpmodel.system.composed import CLOSED_BY_CLOSE
from tcpmodel.system.steps import EndpointStep


class Ledger:
    """Facts about every endpoint step of an exploration, gathered while it runs (a
    ``StepWatcher``: ``check``'s ``watch``): which segments went without ACK, whether every ACK was the sender's RCV.NXT,
    when SYNs and FINs were sent, what a RST did, and what became of data that arrived ahead
    of RCV.NXT or again."""

    def __init__(self, spec: Spec):
        names = [v.name for v in spec.variables]
        self.spec = spec
        self.var = {n: names.index(n) + 1 for n in ("ISS", "SND.UNA", "SND.NXT", "RCV.NXT")}
        index = {s: i for i, s in enumerate(spec.states)}
        self.no_tcb = {index[s] for s in spec.no_tcb}
        self.unsynchronized = {index[s] for s in ("CLOSED", "LISTEN", "SYN-SENT") if s in index}
        self.after_fin = {index[s] for s in ("FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK", "TIME-WAIT") if s in index}
        self.without_ack: dict[str, set[str]] = {}  # flags -> rules that sent such segments
        self.syn_rules: set[str] = set()
        self.syn_after_synchronized = 0  # SYNs sent when the sender's own SYN was already acknowledged
        self.fin_without_close = 0
        self.data_beyond_fin = 0
        self.acks = self.acks_not_rcv_nxt = 0
        self.rst_ended = self.rst_dropped = 0
        self.rst_otherwise: set[str] = set()
        self.ahead = self.ahead_delivered = 0
        self.again = self.again_delivered = 0

    def on_step(self, k: int, step: EndpointStep, j: int) -> None:
        pre, post = step.pre_tcb, step.post_tcb
        rule = self.spec.rules[step.rule].name
        v = self.var
        for seg in step.sent:
            flags = seg[0]
            if not flags & ACK:
                self.without_ack.setdefault(flag_names(flags), set()).add(rule)
            if flags & SYN:
                self.syn_rules.add(rule)
                if pre[0] not in self.no_tcb and pre[v["SND.UNA"]] != pre[v["ISS"]]:
                    self.syn_after_synchronized += 1
            if flags & FIN and step.post[1][2] != CLOSED_BY_CLOSE:
                self.fin_without_close += 1
            if seg[3] and pre[0] in self.after_fin and seq_gt(seq_add(seg[1], seg[3]), seq_add(pre[v["SND.NXT"]], -1)):
                self.data_beyond_fin += 1
            if flags & ACK and not flags & RST and post[0] not in self.no_tcb:
                self.acks += 1
                self.acks_not_rcv_nxt += seg[2] != post[v["RCV.NXT"]]
        seg = step.received
        if step.kind != "segment" or seg is None or pre[0] in self.unsynchronized:
            return
        if seg[0] & RST:
            if post[0] in self.no_tcb:
                self.rst_ended += 1
            elif post == pre and rule == "unacceptable_rst":
                self.rst_dropped += 1
            else:
                self.rst_otherwise.add(rule)
        elif (seg[3] or seg[0] & FIN) and not seg[0] & SYN and post[0] not in self.no_tcb:
            rcv = pre[v["RCV.NXT"]]
            assert step.ghost is not None and step.new_ghost is not None  # the system checked has an observer
            grew = step.new_ghost[2] > step.ghost[2]
            if seq_gt(seg[1], rcv):  # data or a FIN, with earlier octets still missing
                self.ahead += 1
                self.ahead_delivered += grew or post[v["RCV.NXT"]] != rcv
            elif seg[3] and seq_le(seq_add(seg[1], seg[3]), rcv):  # data delivered before
                self.again += 1
                self.again_delivered += grew
