"""Times an HTTP request on the loopback interface from the wire, for the STOW-RS benchmark.

The DICOMweb plugin's STOW-RS client runs the transfer in a worker thread that its job looks at
every 500 ms (DicomWebClient.cpp, SingleFunctionJob::Step), so the sender's synchronous answer
comes 0–500 ms after the transfer ended: too coarse for runs of 2–4 s. WireTimer reads the
packets of "lo" (an AF_PACKET socket, root only; the kernel copies only the first 128 bytes of
each, by a one-instruction socket filter) with the kernel's receive time stamps, and gives
the time from the first byte of the request to the receiver's port to the first byte of its
answer: the receiver's whole work on the study, paced by the sender's sending."""

import ctypes
import select
import socket
import struct
import threading

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
PACKET_OUTGOING = 4  # loopback packets are seen twice: as sent (4) and as received (0)
SNAP = 128           # bytes of each packet copied: headers only
ETH, IPV4, TCP = 14, 0x0800, 6


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


class WireError(Exception):
    pass


class WireTimer:
    """with WireTimer(port) as timer: ...one request to 127.0.0.1:port...; then
    timer.seconds() (first request byte → first answer byte) and the byte counts."""

    def __init__(self, port):
        self.port = port
        self.first_request = self.last_request = self.first_answer = None
        self.request_bytes = self.answer_bytes = 0
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        # "ret #SNAP": accept every packet, copy its first SNAP bytes.
        self._program = (SockFilter * 1)(SockFilter(0x06, 0, 0, SNAP))
        fprog = SockFprog(1, self._program)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(
            ctypes.string_at(ctypes.addressof(fprog), ctypes.sizeof(fprog))))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("lo", 0))
        self.thread = threading.Thread(target=self._loop, name="wire-timer", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(10)
        self.sock.close()

    def _loop(self):
        space = socket.CMSG_SPACE(16)
        while True:  # once told to stop, reads what the kernel still holds, then ends
            if not select.select([self.sock], [], [], 0.05)[0]:
                if self.stopping.is_set():
                    return
                continue
            data, ancillary, _, address = self.sock.recvmsg(SNAP, space)
            if address[2] == PACKET_OUTGOING or len(data) < ETH + 20:
                continue
            stamp = None
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    stamp = seconds + nanoseconds / 1e9
            self._packet(data, stamp)

    def _packet(self, data, stamp):
        if struct.unpack("!H", data[12:14])[0] != IPV4 or data[ETH + 9] != TCP:
            return
        ip_header = (data[ETH] & 0x0F) * 4
        total = struct.unpack("!H", data[ETH + 2:ETH + 4])[0]
        tcp = ETH + ip_header
        if len(data) < tcp + 13:
            return
        source, destination = struct.unpack("!HH", data[tcp:tcp + 4])
        payload = total - ip_header - (data[tcp + 12] >> 4) * 4
        if payload <= 0 or stamp is None:
            return
        if destination == self.port:
            if self.first_request is None:
                self.first_request = stamp
            self.last_request = stamp
            self.request_bytes += payload
        elif source == self.port and self.first_request is not None:
            if self.first_answer is None:
                self.first_answer = stamp
            self.answer_bytes += payload

    def seconds(self):
        if self.first_request is None or self.first_answer is None:
            raise WireError("no request to port %d and answer seen on lo (request %s, answer %s)"
                            % (self.port, self.first_request, self.first_answer))
        return self.first_answer - self.first_request
