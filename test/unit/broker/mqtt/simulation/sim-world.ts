/**
 * One seeded simulation run: an MqttBroker (no persistence, as MqttBroker alone has none)
 * with simulated clients on in-memory sockets, a mocked clock (Date, setTimeout, setInterval;
 * the deadline wheel runs on them), and one PRNG choosing every client, action, interleaving,
 * acknowledgement policy and clock step. A run has three phases: random traffic, a drain
 * (every client reconnects without clean start and acknowledges everything), and the checks.
 */
import { mock } from "node:test";
import { MqttBroker } from "../../../../../src/broker/mqtt/broker.ts";
import { ConnectionState, type MqttConnection } from "../../../../../src/broker/mqtt/connection.ts";
import { currentTick } from "../../../../../src/broker/mqtt/deadline-wheel.ts";
import type { FlowControl } from "../../../../../src/broker/mqtt/flow-control.ts";
import type { Message } from "../../../../../src/broker/mqtt/message.ts";
import type { Delivery, Session } from "../../../../../src/broker/mqtt/session.ts";
import { defaultConfig } from "../../../../../src/config/load.ts";
import { createLogger } from "../../../../../src/log/logger.ts";
import { Prng } from "../../../../helpers/prng.ts";
import { type ClientProfile, pick, SimClient, type SimContext } from "./sim-client.ts";
import { Checker, keyOfPayload, type QoS, Trace } from "./sim-model.ts";
import { type SimSocket, type SocketLimits, traffic } from "./sim-socket.ts";
import { WillTracker } from "./sim-wills.ts";

export interface SimOptions {
  /** Random actions before the drain. */
  readonly steps: number;
  /** Share group QoS choices; [1, 2] by default. */
  readonly shareQos?: readonly QoS[];
  /**
   * A broker fault to inject, to show the checker catches it: `drop` loses one QoS 1/2
   * delivery, `duplicate` routes one QoS 2 delivery twice, `unbounded` (a backpressure run)
   * gives the broker no write-buffer limit while the checker holds it to the small one.
   */
  readonly fault?: "drop" | "duplicate" | "unbounded";
  /** Backpressure run (small socket buffers, write limit and queues): drawn when undefined. */
  readonly backpressure?: boolean;
}

/** MqttBroker's private routing callback, wrapped for fault injection. */
type DeliverFn = (...args: unknown[]) => void;

export interface SimResult {
  readonly seed: number;
  readonly violations: readonly string[];
  /** The last events, for a failure report. */
  readonly trace: string;
  readonly summary: string;
}

const SHARE_FILTERS = ["$share/g1/s/#", "$share/g2/s/#", "$share/g1/s/+/x", "$share/g3/s/a/+"];
const WHEEL_STEP_MS = 100;
/** Keep alive may close this much after 1.5 x its period: two wheel ticks and a step. */
const KEEP_ALIVE_SLACK_MS = 400;
const DRAIN_ROUNDS_MAX = 2000;
/**
 * Bytes a broker socket may hold past max_write_buffer_bytes: the broker checks the limit
 * before each PUBLISH (one may go over) and answers what it already read before it stops
 * reading (acks, PINGRESP, SUBACK of one client's burst); on a session resume it resends its
 * whole inflight window at once [MQTT-4.4.0-1] (PUBLISH_BYTES_MAX each, at most).
 */
const WRITE_SLACK_BYTES = 2048;
/** Largest PUBLISH the clients make: 1230 bytes of padding, key, topic, properties. */
const PUBLISH_BYTES_MAX = 1400;
const NO_BACKPRESSURE: SocketLimits = {
  receiveBytes: Number.POSITIVE_INFINITY,
  highWaterMark: 16_384,
};
const TRACE_LINES = Number(process.env.SIM_TRACE ?? 400);

/** Each run starts on a tick boundary after the previous run's clock, so runs replay alike. */
let clockFloorMs = 0;

function alignedStartMs(): number {
  let t = Math.max(Date.now(), clockFloorMs) + 10_000;
  const tick = currentTick(t);
  while (currentTick(t) === tick) t++;
  return t;
}

/** A connection's FlowControl, if it has one (without making one, as `flow` would). */
function flowOf(conn: MqttConnection): FlowControl | null {
  return (conn as unknown as { flowState: FlowControl | null }).flowState;
}

/** The publishers waiting for a subscriber's FlowControl. */
function waitersOf(flow: FlowControl | null | undefined): readonly FlowControl[] {
  return (flow as unknown as { waiters: FlowControl[] | null } | null)?.waiters ?? [];
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runSimulation(seed: number, options: SimOptions): Promise<SimResult> {
  const world = new World(seed, options);
  world.start();
  try {
    await world.run();
  } catch (err) {
    world.checker.fail(`exception escaped: ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    await world.stop();
  }
  return world.result();
}

class World {
  readonly seed: number;
  readonly options: SimOptions;
  readonly rng: Prng;
  private readonly randomRng: Prng;
  readonly trace: Trace;
  readonly checker: Checker;
  private broker: MqttBroker | null = null;
  private clients: SimClient[] = [];
  private readonly logErrors: string[] = [];
  /** What the broker should hold as retained: the last retained PUBLISH per topic it took. */
  private readonly retainedModel = new Map<string, string>();
  private nowMs = 0;
  readonly wills: WillTracker;
  /** Protocol errors the clients provoked on purpose (at most this many may be counted). */
  private protocolErrorsExpected = 0;
  private inflightMax = 0;
  /** Small buffers and queues this run (see newBroker). */
  private backpressure = false;
  private socketLimits = NO_BACKPRESSURE;
  /** max_write_buffer_bytes as the checker holds the broker to it. */
  private writeLimit = 0;
  /** Deliveries the broker dropped from full queues, by why it could (see onQueueDrop). */
  private readonly drops = new Map<string, number>();
  private readonly dropped = new Set<string>();
  private readonly overBuffered = new Set<SimSocket>();
  private bufferedMax = 0;
  /** Times the drain met the known bug of queued-after-large-write.test.ts. */
  private readonly originalRandom = Math.random;
  private readonly onRejection = (reason: unknown) => {
    this.checker.fail(`unhandled rejection: ${reason instanceof Error ? reason.stack : reason}`);
  };
  private readonly onException = (err: Error) => {
    this.checker.fail(`uncaught exception: ${err.stack}`);
  };

  constructor(seed: number, options: SimOptions) {
    this.seed = seed;
    this.options = options;
    this.rng = new Prng(seed);
    this.randomRng = new Prng(seed ^ 0x5bd1e995);
    this.trace = new Trace(TRACE_LINES, () => this.nowMs - this.startMs);
    this.checker = new Checker(this.trace);
    this.wills = new WillTracker(this.checker);
  }

  private startMs = 0;

  start(): void {
    this.startMs = alignedStartMs();
    this.nowMs = this.startMs;
    mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: this.startMs });
    // The "random" share strategy draws from Math.random: from the seed too.
    Math.random = () => this.randomRng.next();
    process.on("unhandledRejection", this.onRejection);
    process.on("uncaughtException", this.onException);
  }

  async stop(): Promise<void> {
    try {
      await this.teardown();
    } finally {
      clockFloorMs = Date.now();
      mock.timers.reset();
      Math.random = this.originalRandom;
      process.off("unhandledRejection", this.onRejection);
      process.off("uncaughtException", this.onException);
    }
  }

  result(): SimResult {
    const broker = this.broker;
    const stats = broker?.stats;
    const summary =
      `clients=${this.clients.length} inflightMax=${this.inflightMax} ` +
      `publishes=${this.checker.publishes.size} messagesIn=${stats?.messagesIn} ` +
      `messagesOut=${stats?.messagesOut} connects=${stats?.connects} ` +
      `expired=${stats?.sessionsExpired} ${this.checker.coverage()} ` +
      (this.backpressure
        ? `bp: limit=${this.writeLimit} bufferedMax=${this.bufferedMax} ` +
          `recv=${this.socketLimits.receiveBytes} stuck=${stats?.slowSubscribers} ` +
          `dropped=${[...this.drops].map(([why, n]) => `${why}:${n}`).join(",") || 0} ` +
          `slowQos0=${stats?.droppedSlowConsumer} `
        : "") +
      `simulated=${this.nowMs - this.startMs}ms`;
    return {
      seed: this.seed,
      violations: this.checker.violations,
      trace: this.trace.tail(TRACE_LINES),
      summary,
    };
  }

  private newBroker(): MqttBroker {
    const { rng } = this;
    const config = defaultConfig();
    this.inflightMax = this.options.fault === "unbounded" ? 1 : 1 + rng.below(12);
    config.mqtt_limits.max_inflight_messages = this.inflightMax;
    this.backpressure = this.options.backpressure ?? rng.chance(0.5);
    const limits = config.mqtt_limits;
    if (this.backpressure) {
      // Below the schema's 64 KiB floor (the code does not depend on it): reached in a few
      // hundred steps of small messages.
      this.writeLimit = pick(rng, [1024, 2048, 8192]);
      if (this.options.fault === "unbounded") this.writeLimit = 1024;
      limits.max_write_buffer_bytes =
        this.options.fault === "unbounded" ? 2 ** 40 : this.writeLimit;
      limits.max_queued_messages = pick(rng, [4, 8, 16, 64]);
      limits.queue_drop_policy = pick(rng, ["drop_oldest", "drop_new"] as const);
      this.socketLimits = {
        receiveBytes: pick(rng, [128, 512, 2048]),
        // Not above the write limit: the broker pauses a client over its limit until 'drain',
        // which comes only after a write() that returned false (the schema's floor of 64 KiB
        // keeps a net.Socket's high-water mark at or below it).
        highWaterMark: pick(rng, [256, 1024, this.writeLimit]),
      };
    } else {
      this.writeLimit = limits.max_write_buffer_bytes;
      // Nothing may be dropped for a full queue: every owed message must arrive.
      limits.max_queued_messages = 1_000_000;
    }
    config.mqtt_protocol_config.topic_alias_max = pick(rng, [0, 2, 5, 65535]);
    config.mqtt_limits.shared_subscription_strategy = pick(rng, [
      "round_robin",
      "random",
      "hash_clientid",
    ] as const);
    const errors = this.logErrors;
    const destination = { write: (line: string) => void errors.push(line) };
    const logger = createLogger({ level: "error", format: "json", destination });
    const broker = new MqttBroker(config, logger);
    const publish = broker.publish;
    broker.publish = (message: Message, publisher, inboundPacketId) => {
      this.onBrokerPublish(message);
      return publish.call(broker, message, publisher, inboundPacketId);
    };
    const { fault } = this.options;
    if (fault === "drop" || fault === "duplicate") this.injectFault(broker, fault);
    this.watchQueueDrops(broker);
    if (process.env.SIM_DEBUG === "1") this.traceDeliveries(broker);
    this.watchSessionEnds(broker);
    this.trace.add(
      `broker inflightMax=${this.inflightMax} ` +
        `shared=${config.mqtt_limits.shared_subscription_strategy}` +
        (this.backpressure
          ? ` writeLimit=${this.writeLimit} queue=${limits.max_queued_messages}` +
            `/${limits.queue_drop_policy} recv=${this.socketLimits.receiveBytes} ` +
            `hwm=${this.socketLimits.highWaterMark}`
          : ""),
    );
    return broker;
  }

  /** Each delivery dropped from a full queue, judged when it happens (see onQueueDrop). */
  private watchQueueDrops(broker: MqttBroker): void {
    const enqueue = broker.enqueue;
    const stats = broker.stats;
    broker.enqueue = (session: Session, delivery: Delivery) => {
      const before = stats.droppedQueueFull;
      const head = session.queue.peek();
      enqueue.call(broker, session, delivery);
      if (stats.droppedQueueFull === before) return;
      const limits = broker.config.mqtt_limits;
      const newest = limits.queue_drop_policy === "drop_new" || limits.max_queued_messages === 0;
      this.onQueueDrop(broker, session, newest ? delivery : (head as Delivery));
    };
  }

  /**
   * What the broker promises (docs/mqtt.md, flow control): a publisher outrunning a connected
   * subscriber is read more slowly instead (once the subscriber's queue is half full, each
   * publisher feeding it waits after the packet it is in); a full queue drops only for a
   * session offline or a subscriber marked stuck (no progress within THROTTLE_WAIT_MS_MAX).
   * What cannot be held back may still overflow a small queue: messages no client publishes in
   * that turn (wills, retained replays), a client's own, and the one packet of each publisher
   * that was not waiting yet ("burst"). A publisher that waits for the subscriber is not read:
   * a drop of its message there is a violation. The others are exempt from the owed checks.
   */
  private onQueueDrop(broker: MqttBroker, session: Session, dropped: Delivery): void {
    const conn = session.link as MqttConnection | null;
    const publisher = (broker as unknown as { publisher: MqttConnection | null }).publisher;
    const flow = conn === null ? null : flowOf(conn);
    const key = keyOfPayload(dropped.message.payload.toString());
    const why =
      conn === null || conn.state !== ConnectionState.CONNECTED
        ? "offline"
        : flow?.stuck === true
          ? "stuck"
          : publisher === null
            ? "unpublished"
            : publisher === conn
              ? "own"
              : waitersOf(flow).includes(flowOf(publisher) as FlowControl)
                ? "held"
                : "burst";
    this.trace.add(`broker drops ${key} for ${session.clientId}: queue full (${why})`);
    this.drops.set(why, (this.drops.get(why) ?? 0) + 1);
    if (why === "held") {
      this.checker.fail(
        `${key} dropped for ${session.clientId} (connected, not stuck, queue full): ` +
          `its publisher ${publisher?.clientId} should have been held back`,
      );
    }
    this.dropped.add(`${session.clientId}|${key}`);
  }

  /** Shared QoS 2 messages in flight in a session the broker ends (see onEndedWithSession). */
  private watchSessionEnds(broker: MqttBroker): void {
    const endSession = broker.endSession;
    broker.endSession = (session: Session) => {
      for (const delivery of session.inflightCount > 0 ? session.inflight.values() : []) {
        if (delivery.qos !== 2 || delivery.share === null) continue;
        const key = keyOfPayload(delivery.message.payload.toString());
        this.trace.add(`${key} ends with ${session.clientId}'s session (QoS 2 in flight, shared)`);
        this.checker.onEndedWithSession(session.clientId, key);
      }
      endSession.call(broker, session);
    };
  }

  /** SIM_DEBUG=1: each delivery the router makes, into the trace. */
  private traceDeliveries(broker: MqttBroker): void {
    const target = broker as unknown as { deliver: DeliverFn };
    const deliver = target.deliver;
    target.deliver = (...args: unknown[]) => {
      const session = args[0] as { clientId: string };
      const share = args[5] as { group: string } | null;
      const what = `${(args[1] as Message).payload} q${args[2]}${share ? ` via ${share.group}` : ""}`;
      this.trace.add(`broker delivers ${what} to ${session.clientId}`);
      deliver.apply(broker, args);
    };
  }

  private injectFault(broker: MqttBroker, fault: "drop" | "duplicate"): void {
    const target = broker as unknown as { deliver: DeliverFn };
    const deliver = target.deliver;
    // Every 5th eligible delivery from the 20th on: enough that some owed one is hit.
    let count = 0;
    target.deliver = (...args: unknown[]) => {
      const qos = args[2] as number;
      const topic = (args[1] as Message).topic;
      const eligible = fault === "drop" ? qos > 0 : qos === 2 && topic.startsWith("t/");
      if (eligible && ++count >= 20 && count % 5 === 0) {
        this.trace.add(`FAULT ${fault} ${(args[1] as Message).payload}`);
        if (fault === "drop") return;
        deliver.apply(broker, args);
      }
      deliver.apply(broker, args);
    };
  }

  /** The retained store's model, in the order the broker took messages. */
  private onBrokerPublish(message: Message): void {
    this.wills.onBrokerPublish(message.topic, message.payload.toString(), Date.now());
    if (!message.retain) return;
    // An expiring retained message may be gone before the end [MQTT-3.3.2-5]: not modelled.
    if (message.payload.length === 0 || message.expiresAtMs !== 0)
      this.retainedModel.delete(message.topic);
    else this.retainedModel.set(message.topic, message.payload.toString());
  }

  private newProfiles(): ClientProfile[] {
    const { rng } = this;
    const shareQos = this.options.shareQos ?? [1, 2];
    const shares = SHARE_FILTERS.map((filter) => ({ filter, qos: pick(rng, shareQos) }));
    const profiles: ClientProfile[] = [];
    const count = 4 + rng.below(5);
    for (let i = 0; i < count; i++) {
      const version = rng.chance(0.6) ? 5 : 4;
      profiles.push({
        id: `c${i}`,
        version,
        expiryS: version === 5 ? pick(rng, [0, 0, 2, 5, 30, 3600]) : rng.chance(0.6) ? 1 : 0,
        keepAliveS: pick(rng, [0, 0, 1, 2, 5, 10]),
        receiveMax: 1 + rng.below(10),
        share: rng.chance(0.5) ? pick(rng, shares) : null,
        ackLateChance: rng.chance(0.5) ? 0.2 : 0,
        ackNeverChance: rng.chance(0.3) ? 0.05 : 0,
        ...this.newV5Options(version),
      });
    }
    return profiles;
  }

  /** Wills (both versions) and the MQTT 5 options of one profile. */
  private newV5Options(version: 4 | 5) {
    const { rng } = this;
    const v5 = version === 5;
    const will = rng.chance(0.5)
      ? { delayS: pick(rng, [0, 0, 1, 3, 60]), qos: rng.below(3) as QoS }
      : null;
    return {
      will,
      topicAliasMax: v5 && rng.chance(0.5) ? 1 + rng.below(3) : 0,
      aliasesOut: v5 && rng.chance(0.5),
      maxPacketBytes: v5 && rng.chance(0.3) ? 64 + rng.below(150) : 0,
      subIds: v5 && rng.chance(0.6),
      expiryChance: v5 && rng.chance(0.5) ? 0.3 : 0,
    };
  }

  async run(): Promise<void> {
    const broker = this.newBroker();
    this.broker = broker;
    const ctx: SimContext = {
      rng: this.rng,
      checker: this.checker,
      trace: this.trace,
      broker,
      inflightMax: this.inflightMax,
      padding: this.backpressure
        ? { anyVersion: true, chance: 0.4, maxBytes: 1200 }
        : { anyVersion: false, chance: 0.1, maxBytes: 200 },
      socketLimits: this.socketLimits,
      wills: this.wills,
      expectProtocolError: () => void this.protocolErrorsExpected++,
      nowMs: () => this.nowMs,
      heldByBroker: (socket: SimSocket) => {
        for (const conn of broker.connections) {
          if ((conn as unknown as { stream: SimSocket }).stream !== socket) continue;
          return flowOf(conn)?.heldByUs === true;
        }
        return false;
      },
    };
    for (const profile of this.newProfiles()) {
      const p = profile;
      this.trace.add(
        `${p.id}: v${p.version === 5 ? 5 : 3} expiry=${p.expiryS} ka=${p.keepAliveS} ` +
          `rm=${p.receiveMax} share=${p.share?.filter ?? "-"}@${p.share?.qos ?? "-"} ` +
          `late=${p.ackLateChance} never=${p.ackNeverChance} maxPacket=${p.maxPacketBytes}`,
      );
      this.clients.push(new SimClient(profile, ctx));
    }
    for (let step = 0; step < this.options.steps; step++) {
      this.act(pick(this.rng, this.clients));
      await this.settle(1 + this.rng.below(3), 0.6);
      if (this.rng.chance(0.25)) await this.advance(WHEEL_STEP_MS * (1 + this.rng.below(10)));
    }
    await this.drain();
    this.finalChecks();
  }

  /** One random action of one client. */
  private act(client: SimClient): void {
    const { rng } = this;
    if (!client.attached) {
      if (rng.chance(0.5)) client.connect(rng.chance(0.1));
      return;
    }
    if (!client.online) return;
    const roll = rng.below(100);
    if (roll < 50) client.publish();
    else if (roll < 62) client.subscribe();
    else if (roll < 66) client.unsubscribe();
    else if (roll < 68) client.disconnect();
    else if (roll < 70) client.reset();
    else if (roll < 72)
      client.connect(rng.chance(0.2)); // takeover of its own session
    else if (roll < 73) {
      const ka = client.profile.p.keepAliveS;
      if (ka > 0) client.stallUntilMs = this.nowMs + ka * 2000 + 500;
    } else if (roll < 76) client.ping();
    else if (roll < 77) client.badAlias();
    else if (roll < (this.options.fault === "unbounded" ? 90 : 80) && this.backpressure) {
      const ms = pick(rng, [300, 1000, 2500, 6000, 6000]);
      client.readStallUntilMs = this.nowMs + ms;
      this.trace.add(`${client.id} stops reading for ${ms} ms`);
    }
  }

  /**
   * After the broker ran and before anyone reads: what each socket holds unsent stays within
   * max_write_buffer_bytes (and a little), and which connections the broker is not reading.
   */
  private sampleFlow(): void {
    const broker = this.broker as MqttBroker;
    for (const conn of broker.connections) {
      const flow = flowOf(conn);
      const stream = (conn as unknown as { stream: SimSocket }).stream;
      if (flow?.paused === true) stream.pausedAtMs = this.nowMs;
    }
    for (const client of this.clients) {
      for (const socket of client.sockets()) {
        socket.sample(this.nowMs, this.writeLimit);
        this.bufferedMax = Math.max(this.bufferedMax, socket.bufferedMax);
        const bound = this.writeLimit + WRITE_SLACK_BYTES + this.inflightMax * PUBLISH_BYTES_MAX;
        if (socket.bufferedMax <= bound) continue;
        if (this.overBuffered.has(socket)) continue;
        this.overBuffered.add(socket);
        this.checker.fail(
          `${socket.label}: broker holds ${socket.bufferedMax} bytes unsent, ` +
            `limit ${this.writeLimit}, bound ${bound}`,
        );
      }
    }
  }

  /** Lets the broker and the streams run; each client reads with probability `readChance`. */
  private async settle(rounds: number, readChance: number): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      await immediate();
      this.sampleFlow();
      const order = [...this.clients];
      for (let i = order.length - 1; i > 0; i--) {
        const j = this.rng.below(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (const client of order) {
        if (this.rng.chance(readChance)) client.read();
      }
    }
  }

  /** Moves the mocked clock in wheel-sized steps, letting everything react between them. */
  private async advance(ms: number): Promise<void> {
    for (let done = 0; done < ms; done += WHEEL_STEP_MS) {
      mock.timers.tick(WHEEL_STEP_MS);
      this.nowMs += WHEEL_STEP_MS;
      await immediate();
      for (const client of this.clients) {
        client.checkKeepAlive(this.nowMs, KEEP_ALIVE_SLACK_MS);
        client.onTime(this.nowMs);
      }
      await this.settle(1, 0.8);
    }
  }

  /** Everyone reconnects (no clean start), acknowledges everything, until nothing moves. */
  private async drain(): Promise<void> {
    this.trace.add("---- drain ----");
    const broker = this.broker as MqttBroker;
    for (const client of this.clients) client.startDrain();
    let quiet = 0;
    for (let round = 0; round < DRAIN_ROUNDS_MAX && quiet < 5; round++) {
      const before = traffic.bytes;
      for (const client of this.clients) {
        if (!client.attached) client.connect(false);
        client.startDrain();
      }
      await this.settle(1, 1);
      if (round % 10 === 9) await this.advance(WHEEL_STEP_MS);
      const online = this.clients.every((c) => c.online);
      // A connection the broker holds back moves again only when time passes.
      const held = [...broker.connections].some((conn) => flowOf(conn)?.paused === true);
      if (held && traffic.bytes === before) await this.advance(WHEEL_STEP_MS);
      quiet = traffic.bytes === before && online && !held ? quiet + 1 : 0;
    }
    this.checker.check(quiet >= 5, () => "drain: traffic did not stop");
  }

  private finalChecks(): void {
    const broker = this.broker as MqttBroker;
    if (process.env.SIM_DEBUG === "1") this.dumpSessions(broker);
    const finalGeneration = new Map(this.clients.map((c) => [c.id, c.generation]));
    const shareOf = new Map<string, string>();
    for (const c of this.clients) {
      const share = c.profile.p.share;
      if (share !== null) shareOf.set(c.id, share.filter);
    }
    const smallClients = new Set(
      this.clients.filter((c) => c.profile.p.maxPacketBytes > 0).map((c) => c.id),
    );
    const exempt = { smallClients, dropped: this.dropped };
    this.checker.checkDeliveries(finalGeneration, shareOf, exempt);
    this.wills.finalCheck(this.nowMs);
    this.checkRetainedStore(broker);
    this.checkBrokerState(broker);
  }

  /** SIM_DEBUG=1: every session's subscriptions, window and queue, into the trace. */
  private dumpSessions(broker: MqttBroker): void {
    for (const session of broker.sessions.values()) {
      const subs = [...session.subscriptionValues()].map((s) => `${s.filter}@${s.qos}`);
      const inflight = [...session.inflight.values()].map(
        (d) => `${d.packetId}:${d.message.payload}/s${d.state}${d.share ? "/shared" : ""}`,
      );
      const queued: string[] = [];
      for (let i = 0; i < session.queueLength; i++) {
        const d = session.queue.shift();
        if (d === undefined) break;
        queued.push(`${d.message.payload}`);
        session.queue.push(d);
      }
      const conn = session.link as MqttConnection | null;
      const link =
        conn === null
          ? "none"
          : `writable=${conn.writable}/${(conn as unknown as { stream: SimSocket }).stream.writableLength}` +
            ` paused=${flowOf(conn)?.paused} stuck=${flowOf(conn)?.stuck}`;
      this.trace.add(
        `session ${session.clientId} link=${link} subs=[${subs}] ` +
          `inflight=[${inflight}] queued=[${queued}]`,
      );
    }
  }

  /** The broker's retained store is the last retained PUBLISH per topic, no more, no less. */
  private checkRetainedStore(broker: MqttBroker): void {
    const held = new Map<string, string>();
    for (const [topic, message] of broker.retained.entries()) {
      held.set(topic, message.payload.toString());
    }
    const { checker } = this;
    for (const [topic, payload] of this.retainedModel) {
      const got = held.get(topic);
      checker.check(
        got === payload,
        () => `retained ${topic}: holds "${got}", expected "${payload}"`,
      );
    }
    for (const [topic, message] of broker.retained.entries()) {
      if (message.expiresAtMs !== 0) continue;
      checker.check(this.retainedModel.has(topic), () => `retained ${topic}: deleted, still held`);
    }
  }

  private checkBrokerState(broker: MqttBroker): void {
    const { checker } = this;
    const stats = broker.stats;
    checker.check(
      stats.internalErrors === 0,
      () => `broker internal errors: ${stats.internalErrors}`,
    );
    checker.check(
      stats.protocolErrors <= this.protocolErrorsExpected,
      () => `protocol errors: ${stats.protocolErrors}, provoked ${this.protocolErrorsExpected}`,
    );
    const seen = [...this.drops.values()].reduce((a, b) => a + b, 0);
    checker.check(
      stats.droppedQueueFull === seen,
      () => `dropped, queue full: ${stats.droppedQueueFull} counted, ${seen} seen`,
    );
    checker.check(this.logErrors.length === 0, () => `errors logged: ${this.logErrors.join("")}`);
    checker.check(
      broker.connectedClients === this.clients.length,
      () => `broker counts ${broker.connectedClients} connected, ${this.clients.length} are`,
    );
    for (const session of broker.sessions.values()) {
      checker.check(
        session.link !== null || session.expiryIntervalS > 0,
        () => `session ${session.clientId} offline with expiry 0 still held`,
      );
    }
  }

  /** Every socket closes; the broker must end up with no connection and no client. */
  private async teardown(): Promise<void> {
    const broker = this.broker;
    if (broker === null) return;
    for (const client of this.clients) {
      for (const socket of client.sockets()) socket.clientReset();
    }
    for (let i = 0; i < 30; i++) {
      await immediate();
      mock.timers.tick(WHEEL_STEP_MS);
      this.nowMs += WHEEL_STEP_MS;
    }
    await immediate();
    this.checker.check(broker.connections.size === 0, () => {
      return `${broker.connections.size} connections left after every socket closed`;
    });
    this.checker.check(broker.connectedClients === 0, () => {
      return `broker counts ${broker.connectedClients} connected after every socket closed`;
    });
  }
}
