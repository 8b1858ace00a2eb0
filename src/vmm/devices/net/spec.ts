/**
 * `--net SPEC`: the text of one vif's host side, parsed into a typed
 * `NetConfig`, or a one-line `NetSpecError`. Pure: nothing is bound or
 * opened here (port.ts does that through the injected host).
 *
 * Grammar (one vif per `--net`, repeatable; the vif's index is its
 * position among the guest's `--net` options, which is also its xenbus
 * device id `vif/N`):
 *
 *   SPEC    := KIND ( ',' KEY '=' VALUE )*
 *   KIND    := 'vxlan:' REMOTE [ ':' PORT ]      Ethernet in VXLAN over UDP (RFC 7348)
 *            | 'switch:' NAME                    the in-process learning switch NAME
 *   KEY     := 'mac'   any kind   xx:xx:xx:xx:xx:xx, a unicast, non-zero address
 *            | 'pcap'  any kind   a file receiving every frame, both ways (libpcap format)
 *            | 'vni'   vxlan      required, 0 … 16777215 (2^24 − 1)
 *            | 'local' vxlan      ADDR[:PORT], the UDP address to bind and receive on
 *   REMOTE  := an IPv4 address, or an IPv6 address in brackets: [2001:db8::1]
 *   PORT    := 1 … 65535 (REMOTE's defaults to 4789, the IANA VXLAN port)
 *
 * Each KEY may appear once. Hostnames are not resolved (REMOTE and ADDR are
 * addresses), so a spec means the same thing wherever it is parsed, and
 * multicast groups (Linux's `group`) are refused: the link is point to point.
 *
 * The local address. Without `local=`, the vif binds the wildcard address
 * of REMOTE's family at REMOTE's port (0.0.0.0:4789 by default). That is
 * what Linux does with `ip link add … type vxlan … dstport P`: one port to
 * send to and to listen on, so `vxlan:PEER,vni=N` on both sides just
 * works. Two ends on one host need two ports: give one of them
 * `local=ADDR:PORT` (docs/devices.md has the recipes). `local=ADDR:0`
 * binds an ephemeral port (useful for a sender whose peer learns nothing
 * back, and for tests).
 *
 * MAC addresses. Without `mac=`, a vif gets a stable generated address
 * (`generateMac`): the same command line gives the same MACs run after run,
 * so a DHCP lease, an ARP cache or a capture filter keeps working.
 */
import { parseMac } from './frame.js';

/** The IANA-assigned VXLAN UDP port (RFC 7348 §5). */
export const VXLAN_DEFAULT_PORT = 4789;
/** Largest VXLAN network identifier (24 bits). */
export const VNI_MAX = 0xffffff;

/** A UDP address: an IP address (no brackets) and a port. */
export interface UdpAddress {
  address: string;
  port: number;
}

/** `vxlan:REMOTE[:PORT],vni=N[,local=ADDR[:PORT]]`. */
export interface VxlanBackend {
  kind: 'vxlan';
  /** The peer the frames are sent to (IP literal without brackets). */
  remote: UdpAddress;
  /** 4 or 6: the address family of `remote` and `local`. */
  family: 4 | 6;
  /** The VXLAN network identifier sent, and the only one accepted. */
  vni: number;
  /** The address bound for sending and receiving (see the header for the default). */
  local: UdpAddress;
}

/** `switch:NAME`: a port on the in-process learning switch NAME. */
export interface SwitchBackend {
  kind: 'switch';
  name: string;
}

/** Where a vif's frames go on the host. */
export type NetBackend = VxlanBackend | SwitchBackend;

/** One parsed `--net SPEC`. Plain data. */
export interface NetConfig {
  /** The vif's index among its guest's --net options (its xenbus devid). */
  index: number;
  /** Canonical MAC text (lower-case, ':'-separated), what netback writes to xenstore's `mac`. */
  mac: string;
  /** True when `mac` was generated (no `mac=` key). */
  macGenerated: boolean;
  backend: NetBackend;
  /** Capture file for every frame both ways, or null. */
  pcap: string | null;
  /** The text the config came from (for messages). */
  spec: string;
}

/** What a spec's meaning depends on besides its text. */
export interface NetSpecContext {
  /** The vif's index among the guest's --net options. */
  index: number;
  /** The kernel file, best absolute, so that generated MACs do not depend on the working directory. */
  kernelPath: string;
  /**
   * The guest's ordinal among the guests of one xenkit process (0 for the
   * first). Several guests booting the same kernel need different MACs.
   */
  guest?: number;
}

/** Kinds of spec errors (tests match on these; users read the message). */
export type NetSpecErrorCode =
  | 'empty' | 'unknown-kind' | 'bad-address' | 'bad-port' | 'bad-vni' | 'missing-vni'
  | 'bad-mac' | 'bad-name' | 'bad-path' | 'unknown-key' | 'duplicate-key' | 'bad-item' | 'duplicate-mac';

/** A --net spec that cannot be used; `message` is one line naming the spec. */
export class NetSpecError extends Error {
  constructor(readonly code: NetSpecErrorCode, readonly spec: string, detail: string) {
    super(`--net ${spec}: ${detail}`);
    this.name = 'NetSpecError';
  }
}

const KINDS_HELP = 'expected vxlan:REMOTE[:PORT],vni=N or switch:NAME';
const KEYS: Record<NetBackend['kind'], readonly string[]> = {
  vxlan: ['mac', 'pcap', 'vni', 'local'],
  switch: ['mac', 'pcap'],
};

/** Parse one `--net SPEC`; throws NetSpecError. */
export function parseNetSpec(spec: string, ctx: NetSpecContext): NetConfig {
  const fail = (code: NetSpecErrorCode, detail: string): never => { throw new NetSpecError(code, spec, detail); };
  if (spec.trim() === '') fail('empty', `empty spec (${KINDS_HELP})`);
  const [head, ...items] = spec.split(',');
  const colon = head!.indexOf(':');
  const kind = colon < 0 ? head! : head!.slice(0, colon);
  const arg = colon < 0 ? '' : head!.slice(colon + 1);
  if (kind !== 'vxlan' && kind !== 'switch') {
    if (kind.includes('=')) fail('unknown-kind', `the spec must start with its kind (${KINDS_HELP})`);
    fail('unknown-kind', `unknown kind "${kind}" (${KINDS_HELP})`);
  }
  const k = kind as NetBackend['kind'];

  const keys = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) fail('bad-item', `"${item}" is not KEY=VALUE`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (!KEYS[k].includes(key)) {
      const elsewhere = KEYS.vxlan.includes(key) ? ` (${key}= applies to vxlan only)` : '';
      fail('unknown-key', `unknown key "${key}" for ${k}${elsewhere}; keys: ${KEYS[k].join(', ')}`);
    }
    if (keys.has(key)) fail('duplicate-key', `${key}= given twice`);
    keys.set(key, value);
  }

  let backend: NetBackend;
  if (k === 'vxlan') {
    const remote = parseHostPort(arg, VXLAN_DEFAULT_PORT, 1);
    if (typeof remote === 'string') return fail(remote.startsWith('port') ? 'bad-port' : 'bad-address', `vxlan remote: ${remote}`);
    if (isUnspecified(remote.address, remote.family)) fail('bad-address', `vxlan remote: ${arg} is the unspecified address; give the peer's address`);
    if (isMulticast(remote.address, remote.family)) fail('bad-address', `vxlan remote: ${remote.address} is a multicast group; only a unicast peer is supported`);
    const vniText = keys.get('vni');
    if (vniText === undefined) return fail('missing-vni', `missing vni=N (the VXLAN network identifier, 0 to ${VNI_MAX})`);
    if (!/^[0-9]+$/.test(vniText) || Number(vniText) > VNI_MAX) fail('bad-vni', `vni=${vniText}: not an integer from 0 to ${VNI_MAX} (24 bits)`);
    let local: UdpAddress = { address: remote.family === 4 ? '0.0.0.0' : '::', port: remote.port };
    const localText = keys.get('local');
    if (localText !== undefined) {
      const l = parseHostPort(localText, remote.port, 0);
      if (typeof l === 'string') return fail(l.startsWith('port') ? 'bad-port' : 'bad-address', `local=${localText}: ${l}`);
      if (l.family !== remote.family) fail('bad-address', `local=${localText}: an IPv${l.family} address for an IPv${remote.family} remote`);
      if (isMulticast(l.address, l.family)) fail('bad-address', `local=${localText}: a multicast address cannot be bound`);
      local = { address: l.address, port: l.port };
    }
    backend = { kind: 'vxlan', remote: { address: remote.address, port: remote.port }, family: remote.family, vni: Number(vniText), local };
  } else {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(arg)) {
      fail('bad-name', `switch name "${arg}": 1 to 32 letters, digits, '_', '.', '-', starting with a letter or digit`);
    }
    backend = { kind: 'switch', name: arg };
  }

  let mac: string;
  const macText = keys.get('mac');
  if (macText !== undefined) {
    const m = parseMac(macText);
    if (m === null) return fail('bad-mac', `mac=${macText}: not a MAC address (six hex pairs: 02:16:3e:12:34:56)`);
    if ((parseInt(m.slice(0, 2), 16) & 1) !== 0) fail('bad-mac', `mac=${macText}: a multicast address (low bit of the first octet set); a vif needs a unicast one`);
    if (m === '00:00:00:00:00:00') fail('bad-mac', `mac=${macText}: the zero address is not a station address`);
    mac = m;
  } else {
    mac = generateMac(ctx.kernelPath, ctx.index, ctx.guest ?? 0);
  }

  const pcap = keys.get('pcap') ?? null;
  if (pcap === '') fail('bad-path', 'pcap= needs a file name');

  return { index: ctx.index, mac, macGenerated: macText === undefined, backend, pcap, spec };
}

/**
 * Parse every `--net` of one guest (index = position) and refuse two vifs
 * with the same MAC; throws NetSpecError.
 */
export function parseNetSpecs(specs: readonly string[], ctx: Omit<NetSpecContext, 'index'>): NetConfig[] {
  const out = specs.map((s, index) => parseNetSpec(s, { ...ctx, index }));
  const seen = new Map<string, NetConfig>();
  for (const c of out) {
    const other = seen.get(c.mac);
    if (other !== undefined) throw new NetSpecError('duplicate-mac', c.spec, `mac ${c.mac} is also vif ${other.index}'s (${other.spec})`);
    seen.set(c.mac, c);
  }
  return out;
}

/**
 * The stable MAC of vif `index` of guest `guest` booting `kernelPath`:
 * `02:16:3e:XX:YY:ZZ`. Xen's toolstack (libxl) gives vifs without a MAC a
 * random `00:16:3e:xx:xx:xx` (XenSource's OUI). xenkit wants the same
 * address on every run, so the last three octets are a hash (FNV-1a 32,
 * then the murmur3 finaliser) of "kernelPath NUL guest NUL index"; and
 * since a generated address is not one XenSource assigned, the
 * locally-administered bit is set (0x02 in the first octet), keeping it
 * unicast and clear of any vendor's NICs while still reading as Xen's.
 * 24 bits of hash make a clash between two vifs unlikely; a switch refuses
 * a second port with a MAC already on it, and `mac=` settles it.
 */
export function generateMac(kernelPath: string, index: number, guest = 0): string {
  const bytes = new TextEncoder().encode(`${kernelPath}\0${guest}\0${index}`);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  const hex = (x: number): string => (x & 0xff).toString(16).padStart(2, '0');
  return `02:16:3e:${hex(h >>> 16)}:${hex(h >>> 8)}:${hex(h)}`;
}

/**
 * `ADDR[:PORT]` with ADDR an IPv4 literal or a bracketed IPv6 literal;
 * a message (starting with "port" for port problems) when malformed.
 */
function parseHostPort(text: string, defaultPort: number, minPort: number): (UdpAddress & { family: 4 | 6 }) | string {
  let addr: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return `"${text}": missing ']' after the IPv6 address`;
    addr = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return `"${text}": expected ':PORT' after ']'`;
    portText = rest === '' ? undefined : rest.slice(1);
    if (!isIPv6(addr)) return `"${addr}" is not an IPv6 address`;
  } else {
    if (text === '') return 'missing address (an IPv4 address, or an IPv6 address in brackets)';
    const parts = text.split(':');
    if (parts.length > 2) return `"${text}": put an IPv6 address in brackets ([${text}]) or give ADDR:PORT`;
    addr = parts[0]!;
    portText = parts[1];
    if (!isIPv4(addr)) return `"${addr}" is not an IP address (hostnames are not resolved; an IPv6 address goes in brackets)`;
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < minPort || Number(portText) > 65535) {
      return `port "${portText}" is not a number from ${minPort} to 65535`;
    }
    port = Number(portText);
  }
  return { address: addr, port, family: text.startsWith('[') ? 6 : 4 };
}

/** Dotted-quad IPv4, each part 0…255 without leading zeros. */
export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/** An IPv6 literal (RFC 4291 §2.2 text forms, including '::' and a trailing IPv4; no zone id). */
export function isIPv6(s: string): boolean {
  let text = s;
  let groupsNeeded = 8;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.slice(lastColon + 1).includes('.')) {
    if (!isIPv4(text.slice(lastColon + 1))) return false;
    text = text.slice(0, lastColon + 1) + '0'; // the IPv4 tail stands for two groups; keep one here
    groupsNeeded = 7;
  }
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string): string[] | null => {
    if (h === '') return [];
    const g = h.split(':');
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : null;
  };
  const a = groups(halves[0]!);
  if (a === null) return false;
  if (halves.length === 1) return a.length === groupsNeeded;
  const b = groups(halves[1]!);
  if (b === null) return false;
  return a.length + b.length < groupsNeeded;
}

function isUnspecified(addr: string, family: 4 | 6): boolean {
  return family === 4 ? addr === '0.0.0.0' : /^[0:]+$/.test(addr);
}

function isMulticast(addr: string, family: 4 | 6): boolean {
  if (family === 4) {
    const first = Number(addr.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  return /^ff/i.test(addr);
}
