/**
 * The host side of the paravirtual network: public face. See
 * docs/devices.md, "Net (host side)".
 *
 *   spec.ts    --net SPEC → NetConfig (one-line NetSpecError), stable MACs
 *   port.ts    NetPort, what the netback plugs into; createNetPort over an injected NetHost
 *   frame.ts   Ethernet frame helpers and the size check
 *   vxlan.ts   RFC 7348 encapsulation and the point-to-point VxlanLink over a UdpSocket
 *   switch.ts  the in-process learning switch
 *   pcap.ts    the libpcap capture writer over a PcapSink
 */
export {
  parseNetSpec, parseNetSpecs, generateMac, NetSpecError, VXLAN_DEFAULT_PORT, VNI_MAX,
  type NetConfig, type NetBackend, type VxlanBackend, type SwitchBackend, type UdpAddress,
  type NetSpecContext, type NetSpecErrorCode,
} from './spec.js';
export {
  createNetPort, attachVxlanUplink, getSwitch,
  type NetPort, type NetHost, type NetPortStats, type NetPortOptions, type NetUplink,
} from './port.js';
export {
  ETH_HEADER_LEN, ETH_MAX_LEN, ETH_MAX_TAGGED_LEN, VLAN_TAG_LEN, ETHERTYPE, BROADCAST_MAC,
  checkFrame, parseEthernet, dstMac, srcMac, etherType, formatMac, parseMac, macBytes,
  type FrameProblem, type FrameDrops, type EthernetHeader,
} from './frame.js';
export {
  vxlanEncap, vxlanDecap, VxlanLink, VXLAN_HEADER_LEN, VXLAN_FLAG_I,
  type UdpSocket, type VxlanDecap, type VxlanStats, type VxlanLinkOptions,
} from './vxlan.js';
export {
  NetSwitch, SwitchError, DEFAULT_AGING_MS, DEFAULT_MAX_ENTRIES,
  type SwitchOptions, type SwitchPort, type SwitchStats, type MacEntry,
} from './switch.js';
export {
  PcapWriter, pcapGlobalHeader, pcapRecord, PCAP_MAGIC, PCAP_SNAPLEN, LINKTYPE_ETHERNET, type PcapSink,
} from './pcap.js';
