// The gVisor netstack harness program of tcpmodel (tcpmodel/stacks/gvisor.py starts it).
//
//	gvisor-harness PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS TESTER_PORT
//
// One netstack stack.Stack with IPv4 and TCP. Its only NIC is a channel.Endpoint: what the stack
// sends is written to PACKET_FD (one end of a socketpair(AF_UNIX, SOCK_DGRAM)) after the 4-byte
// TUN header 00 00 08 00, and what arrives there is injected into the stack. The user calls of
// tcpmodel/stacks/process.py come as lines on standard input, one reply line each on standard
// output; they are made with netstack's tcpip.Endpoint API, the one gVisor's own sockets call.
// Netstack runs its own goroutines (segment processing, timers), so the stack keeps running
// between commands without help.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/bufferv2"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// version is set at build time (-ldflags -X main.version=...) to the Debian package's version.
var version = "unknown"

const (
	nicID      = 1
	mtu        = 1500
	prefixLen  = 24
	backlog    = 8
	packetSize = 65536
)

var tunHeader = []byte{0, 0, 8, 0} // flags 0, protocol 0x0800 (IPv4)

// harness holds the stack and the one connection (or listener) a vector uses.
type harness struct {
	stack      *stack.Stack
	link       *channel.Endpoint
	packets    int // the socketpair's descriptor
	local      tcpip.FullAddress
	remote     tcpip.FullAddress
	listener   tcpip.Endpoint
	connection tcpip.Endpoint
}

func main() {
	if len(os.Args) != 6 {
		fail("usage: gvisor-harness PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS TESTER_PORT")
	}
	fd, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fail("PACKET_FD %q is not a number", os.Args[1])
	}
	local, remote := fullAddress(os.Args[2], os.Args[3]), fullAddress(os.Args[4], os.Args[5])
	s, link := newStack(local.Addr, remote.Addr)
	h := &harness{stack: s, link: link, packets: fd, local: local, remote: remote}
	go outbound(fd, link)
	fmt.Printf("ready gVisor netstack %s\n", version)
	h.serve(int(os.Stdin.Fd()), os.Stdout)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gvisor-harness: "+format+"\n", args...)
	os.Exit(2)
}

func fullAddress(address, port string) tcpip.FullAddress {
	ip := net.ParseIP(address).To4()
	number, err := strconv.Atoi(port)
	if ip == nil || err != nil || number <= 0 || number > 65535 {
		fail("bad address %s:%s", address, port)
	}
	return tcpip.FullAddress{NIC: nicID, Addr: tcpip.Address(ip), Port: uint16(number)}
}

// newStack builds the stack, whose only NIC is the returned channel endpoint.
func newStack(address, tester tcpip.Address) (*stack.Stack, *channel.Endpoint) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	// Segments as the model's: no SACK-permitted option (netstack's default, pinned). Netstack
	// always offers timestamps and a window scale on its own SYN (connect.go, handshake.start);
	// the tester's SYN-ACK offers neither, so neither is used afterwards.
	sack := tcpip.TCPSACKEnabled(false)
	must(s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack), "TCPSACKEnabled")
	// Netstack answers at most one out-of-window segment per 500 ms with an ACK (as Linux's
	// tcp_invalid_ratelimit); the vectors send several within milliseconds, each owed an ACK.
	must(s.SetOption(stack.TCPInvalidRateLimitOption(0)), "TCPInvalidRateLimitOption")
	// RFC 6298's minimum RTO of 1 s, where netstack's is 200 ms: a vector's steps are 50 ms
	// apart, so at 200 ms whether a retransmission falls inside a vector would depend on how
	// loaded the machine is, and a run would not repeat. Vectors that wait for a retransmission
	// ask for the RTO (the RTO command) and wait for it.
	minRTO := tcpip.TCPMinRTOOption(time.Second)
	must(s.SetTransportProtocolOption(tcp.ProtocolNumber, &minRTO), "TCPMinRTOOption")
	link := channel.New(256, mtu, "")
	must(s.CreateNIC(nicID, link), "CreateNIC")
	must(s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: address, PrefixLen: prefixLen},
	}, stack.AddressProperties{}), "AddProtocolAddress")
	subnet := tcpip.AddressWithPrefix{Address: address, PrefixLen: prefixLen}.Subnet()
	s.SetRouteTable([]tcpip.Route{
		{Destination: subnet, NIC: nicID},
		{Destination: header.IPv4EmptySubnet, Gateway: tester, NIC: nicID},
	})
	return s, link
}

func must(err tcpip.Error, what string) {
	if err != nil {
		fail("%s: %s", what, err)
	}
}

// inject injects every IPv4 packet waiting on the socketpair into the stack, without waiting
// for more.
func (h *harness) inject(buffer []byte) {
	for {
		n, _, err := syscall.Recvfrom(h.packets, buffer, syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return
		}
		if err != nil || n == 0 {
			fail("reading the packet socket: %v", err)
		}
		if n <= len(tunHeader) || !bytes.Equal(buffer[2:4], tunHeader[2:4]) {
			continue // not IPv4
		}
		packet := stack.NewPacketBuffer(stack.PacketBufferOptions{
			Payload: bufferv2.MakeWithData(append([]byte(nil), buffer[len(tunHeader):n]...)),
		})
		h.link.InjectInbound(ipv4.ProtocolNumber, packet)
		packet.DecRef()
	}
}

// outbound writes every packet the stack sends to the socketpair, behind the TUN header.
func outbound(fd int, link *channel.Endpoint) {
	for {
		packet := link.ReadContext(context.Background())
		if packet.IsNil() {
			continue
		}
		datagram := append([]byte(nil), tunHeader...)
		for _, slice := range packet.AsSlices() {
			datagram = append(datagram, slice...)
		}
		packet.DecRef()
		for {
			_, err := syscall.Write(fd, datagram)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				fail("writing the packet socket: %v", err)
			}
			break
		}
	}
}

// serve answers the line protocol until QUIT or the end of standard input, and injects the
// packets that arrive meanwhile. Both are read in this one loop, so a command is handled only
// after every packet the tester sent before it: those are injected first, and netstack, which
// processes segments in goroutines of its own, is then paused and resumed, which returns once
// its TCP processors have emptied their queues. Without that a POLL could miss a connection
// whose handshake-completing ACK was still queued, and a CLOSE would then close the listener.
func (h *harness) serve(in int, out io.Writer) {
	packet, chunk, pending := make([]byte, packetSize), make([]byte, 4096), []byte(nil)
	fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}, {Fd: int32(h.packets), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			fail("poll: %v", err)
		}
		if fds[1].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			fail("the packet socket was closed")
		}
		h.inject(packet)
		if fds[0].Revents == 0 {
			continue
		}
		n, err := syscall.Read(in, chunk)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return // the end of standard input: the harness is gone
		}
		pending = append(pending, chunk[:n]...)
		for {
			end := bytes.IndexByte(pending, '\n')
			if end < 0 {
				break
			}
			words := strings.Fields(string(pending[:end]))
			pending = pending[end+1:]
			if len(words) == 0 {
				continue
			}
			if words[0] == "QUIT" {
				return
			}
			h.inject(packet)
			h.stack.Pause()
			h.stack.Resume()
			fmt.Fprintln(out, h.command(words))
		}
	}
}

func (h *harness) command(words []string) string {
	switch words[0] {
	case "LISTEN":
		return h.listen()
	case "CONNECT":
		return h.connect()
	case "SEND":
		length := 1
		if len(words) > 1 {
			if n, err := strconv.Atoi(words[1]); err == nil && n > 0 {
				length = n
			}
		}
		return h.send(length)
	case "CLOSE":
		return h.close()
	case "ABORT":
		return h.abort()
	case "POLL":
		h.poll()
		return "ok"
	case "RTO":
		return h.rto()
	}
	return "error unknown command " + words[0]
}

func (h *harness) newEndpoint() (tcpip.Endpoint, tcpip.Error) {
	var queue waiter.Queue
	ep, err := h.stack.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &queue)
	if err != nil {
		return nil, err
	}
	ep.SocketOptions().SetReuseAddress(true)
	ep.SocketOptions().SetDelayOption(false) // TCP_NODELAY: each SEND goes out at once
	return ep, nil
}

func (h *harness) listen() string {
	ep, err := h.newEndpoint()
	if err == nil {
		err = ep.Bind(h.local)
	}
	if err == nil {
		err = ep.Listen(backlog)
	}
	if err != nil {
		if ep != nil {
			ep.Close()
		}
		return "error " + err.String()
	}
	h.listener = ep
	return "ok"
}

func (h *harness) connect() string {
	ep, err := h.newEndpoint()
	if err == nil {
		err = ep.Bind(h.local)
	}
	if err != nil {
		if ep != nil {
			ep.Close()
		}
		return "error " + err.String()
	}
	h.connection = ep
	if err := ep.Connect(h.remote); err != nil {
		if _, started := err.(*tcpip.ErrConnectStarted); !started {
			return "error " + err.String()
		}
	}
	return "ok"
}

// target is the endpoint a SEND, CLOSE or ABORT acts on, or an "unsupported" reply.
func (h *harness) target(call string) (tcpip.Endpoint, string) {
	if h.connection != nil {
		return h.connection, ""
	}
	if h.listener != nil && h.halfOpen() {
		return nil, "unsupported " + call + " in SYN-RECEIVED of a passive open: netstack's API has no handle " +
			"on a connection before Accept returns it (closing the listener would drop it without a FIN or RST)"
	}
	if h.listener != nil && call == "SEND" {
		return nil, "unsupported SEND on a listening endpoint: netstack's API has no passive-to-active change"
	}
	if h.listener == nil {
		return nil, "error no open endpoint"
	}
	return h.listener, ""
}

func (h *harness) send(length int) string {
	ep, reply := h.target("SEND")
	if ep == nil {
		return reply
	}
	var data bytes.Reader
	data.Reset(bytes.Repeat([]byte("a"), length))
	n, err := ep.Write(&data, tcpip.WriteOptions{})
	if err != nil {
		return "error " + err.String()
	}
	if int(n) != length {
		return fmt.Sprintf("error only %d of %d octets sent", n, length)
	}
	return "ok"
}

// close is RFC 9293's CLOSE: Shutdown(ShutdownWrite), "no more to send", the socket layer's
// shutdown(SHUT_WR); on a listener, Close. (In SYN-SENT and SYN-RECEIVED netstack's Shutdown
// abandons the handshake, as its Close does.)
func (h *harness) close() string {
	ep, reply := h.target("CLOSE")
	if ep == nil {
		return reply
	}
	if ep == h.listener {
		h.forget(ep)
		ep.Close()
		return "ok"
	}
	if err := ep.Shutdown(tcpip.ShutdownWrite); err != nil {
		return "error " + err.String()
	}
	return "ok"
}

// abort is RFC 9293's ABORT: SO_LINGER {on, 0 s} and Close, which netstack (as Linux) turns
// into a reset in the synchronized states. Not in SYN-RECEIVED: there this netstack's
// resetConnectionLocked dereferences the sender a handshake does not have yet and the process
// panics (transport/tcp/connect.go:1025 in the Debian sources), so the user's abort there is a
// plain Close, which abandons the handshake.
func (h *harness) abort() string {
	ep, reply := h.target("ABORT")
	if ep == nil {
		return reply
	}
	if tcp.EndpointState(ep.State()) != tcp.StateSynRecv {
		ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: 0})
	}
	h.forget(ep)
	ep.Close()
	return "ok"
}

func (h *harness) forget(ep tcpip.Endpoint) {
	if ep == h.connection {
		h.connection = nil
	}
	if ep == h.listener {
		h.listener = nil
	}
}

// poll accepts the passive connection once there is one (then closes the listener: RFC 9293's
// passive TCB becomes the connection) and reads whatever arrived.
func (h *harness) poll() {
	if h.listener != nil && h.connection == nil {
		if ep, _, err := h.listener.Accept(nil); err == nil {
			ep.SocketOptions().SetDelayOption(false)
			h.connection = ep
			h.listener.Close()
			h.listener = nil
		}
	}
	if h.connection != nil {
		for {
			result, err := h.connection.Read(io.Discard, tcpip.ReadOptions{})
			if err != nil || result.Count == 0 {
				break
			}
		}
	}
}

// halfOpen says whether a handshake of the listener is in SYN-RECEIVED: netstack registers
// such a connection with the stack before Accept can return it.
func (h *harness) halfOpen() bool {
	for _, registered := range h.stack.RegisteredEndpoints() {
		ep, ok := registered.(tcpip.Endpoint)
		if ok && tcp.EndpointState(ep.State()) == tcp.StateSynRecv {
			return true // the only connection a vector makes is this listener's
		}
	}
	return false
}

// rto is the connection's retransmission timeout from its TCPInfo; during a handshake
// netstack has no sender yet (TCPInfo's RTO is 0) and its SYN timer starts at tcp.InitialRTO.
func (h *harness) rto() string {
	rto := tcp.InitialRTO
	if h.connection != nil {
		var info tcpip.TCPInfoOption
		if err := h.connection.GetSockOpt(&info); err == nil && info.RTO > 0 {
			rto = info.RTO
		}
	}
	return fmt.Sprintf("ok %.3f", rto.Seconds())
}
