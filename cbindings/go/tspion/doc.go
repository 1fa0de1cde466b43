// Package tspion counts the RTP traffic of pion/webrtc PeerConnections into
// trackstats: an interceptor.Factory whose interceptor records every packet
// a PeerConnection receives on a remote stream as UPSTREAM and every packet
// it sends on a local stream as DOWNSTREAM, per (participant, track,
// country) key, with one atomic add per packet and no lock or allocation.
//
// # Which streams and keys
//
// pion gives a remote stream no track id (StreamInfo.ID is empty), so the
// host resolves each stream when pion binds it: the Resolver gets the
// PeerConnection's id, the stream's SSRC and its StreamInfo and returns the
// Key to count it under, or nil for a stream that must not be counted (a
// relayed copy of a track, counted on the node that owns it). Streams that
// resolve to the same Key share one trackstats.Track, which the last Unbind
// (or the PeerConnection's Close) closes.
//
// # What a packet counts
//
// A remote stream's packet is recorded as it comes out of SRTP decryption:
// one message of len(packet) bytes, the RTP header (with CSRCs, extensions
// and padding) plus the payload. Its 16-bit sequence number feeds the
// per-window loss, reordering and duplicate counts (Track.RecordUpPacket)
// and its marker bit counts a frame: the last packet of a video frame, the
// first packet of an audio talkspurt. A padding-only packet is a packet like
// any other (it takes a sequence number, so leaving it out would count it
// lost). A packet too short for an RTP header, or of another version, counts
// its bytes and one message without a sequence number.
//
// Retransmission (RTX) and FEC streams are bound by pion as streams of their
// own, with their own SSRC and sequence numbers (StreamInfo.MimeType ends in
// "/rtx", "/ulpfec" or "/flexfec..."; Stream.Repair is true). Their packets
// count bytes and messages only, never sequence numbers, which would mix two
// numbering spaces. Where they are counted is the resolver's choice: the
// media stream's Key (the track's bytes include its repairs), a Key of their
// own, or nil.
//
// A local stream's packet is recorded as it goes into SRTP encryption, once
// the writer below accepted it: header plus payload plus padding, the size
// SRTP encrypts (rtp.PacketMarshalSize). Everything written on the stream is
// counted, retransmissions and padding included, as long as the interceptor
// that writes them sits outside this one.
//
// Bytes are never SRTP's (the authentication tag, the MKI), UDP's, DTLS's
// or ICE's: the figures are what the application sent and received as RTP.
//
// # Where to register it
//
// Add the factory to the interceptor.Registry first: pion chains interceptors
// in the order they were added, the first one next to SRTP, so this one then
// sees the packets as they crossed the wire, including those that later
// interceptors (NACK responders, FEC encoders, pacers) write through it.
//
// # Cost
//
// A packet is one atomic add on the track's slot plus, on a remote stream,
// a few plain stores for the sequence rule: no lock, no allocation, no cgo
// call but once per track, direction and window (bench_test.go compares it
// with pion's own stats interceptor). A relayed stream is not wrapped at all.
package tspion
