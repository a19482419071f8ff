package abi

// TCP flag bits as the tcp_flags column holds them (the flags byte of the
// TCP header, RFC 9293): the pcap format reads and writes them, the
// session metric and the host's session completion read them.
const (
	TCPFIN = 0x01
	TCPSYN = 0x02
	TCPRST = 0x04
	TCPACK = 0x10
)
