/**
 * One seeded simulation run: an MqttBroker (no persistence, as MqttBroker alone has none)
 * with simulated clients on in-memory sockets, a mocked clock (Date, setTimeout, setInterval;
 * the deadline wheel runs on them), and one PRNG choosing every client, action, interleaving,
 * acknowledgement policy and clock step. A run has three phases: random traffic, a drain
 * (every client reconnects without clean start and acknowledges everything), and the checks.
 */
import { mock } from "node:test";
import { MqttBroker } from "../../../../../src/broker/mqtt/broker.ts";
import { currentTick } from "../../../../../src/broker/mqtt/deadline-wheel.ts";
import type { Message } from "../../../../../src/broker/mqtt/message.ts";
import { defaultConfig } from "../../../../../src/config/load.ts";
import { createLogger } from "../../../../../src/log/logger.ts";
import { Prng } from "../../../../helpers/prng.ts";
import { type ClientProfile, pick, SimClient, type SimContext } from "./sim-client.ts";
import { Checker, type QoS, Trace } from "./sim-model.ts";
import { traffic } from "./sim-socket.ts";
import { WillTracker } from "./sim-wills.ts";

export interface SimOptions {
  /** Random actions before the drain. */
  readonly steps: number;
  /** Share group QoS choices; [1, 2] by default. */
  readonly shareQos?: readonly QoS[];
  /**
   * A broker fault to inject, to show the checker catches it: `drop` loses one QoS 1/2
   * delivery, `duplicate` routes one QoS 2 delivery twice.
   */
  readonly fault?: "drop" | "duplicate";
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
const TRACE_LINES = Number(process.env.SIM_TRACE ?? 400);

/** Each run starts on a tick boundary after the previous run's clock, so runs replay alike. */
let clockFloorMs = 0;

function alignedStartMs(): number {
  let t = Math.max(Date.now(), clockFloorMs) + 10_000;
  const tick = currentTick(t);
  while (currentTick(t) === tick) t++;
  return t;
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
    this.inflightMax = 1 + rng.below(12);
    config.mqtt_limits.max_inflight_messages = this.inflightMax;
    // Nothing may be dropped for a full queue: every owed message must arrive.
    config.mqtt_limits.max_queued_messages = 1_000_000;
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
    if (this.options.fault !== undefined) this.injectFault(broker, this.options.fault);
    if (process.env.SIM_DEBUG === "1") this.traceDeliveries(broker);
    this.trace.add(
      `broker inflightMax=${this.inflightMax} ` +
        `shared=${config.mqtt_limits.shared_subscription_strategy}`,
    );
    return broker;
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
      wills: this.wills,
      expectProtocolError: () => void this.protocolErrorsExpected++,
      nowMs: () => this.nowMs,
    };
    for (const profile of this.newProfiles()) {
      const p = profile;
      this.trace.add(
        `${p.id}: v${p.version === 5 ? 5 : 3} expiry=${p.expiryS} ka=${p.keepAliveS} ` +
          `rm=${p.receiveMax} share=${p.share?.filter ?? "-"}@${p.share?.qos ?? "-"} ` +
          `late=${p.ackLateChance} never=${p.ackNeverChance}`,
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
  }

  /** Lets the broker and the streams run; each client reads with probability `readChance`. */
  private async settle(rounds: number, readChance: number): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      await immediate();
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
      quiet = traffic.bytes === before && online ? quiet + 1 : 0;
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
    const exempt = { smallClients };
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
      this.trace.add(
        `session ${session.clientId} link=${session.link !== null} subs=[${subs}] ` +
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
    checker.check(
      stats.droppedQueueFull === 0,
      () => `dropped, queue full: ${stats.droppedQueueFull}`,
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
