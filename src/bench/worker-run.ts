/**
 * Everything one worker thread does, driven by the main thread's messages: connect its share of
 * the clients, subscribe its subscribers, run its publishers, keep every connection alive, report
 * its counters every second, and finally disconnect and hand over its results. No thread API in
 * here (worker.ts is the thin entry point), so it also runs in-process.
 */
import { assert } from "../errors.ts";
import { Client, ClientState, type ConnectTarget } from "./client.ts";
import { Connector } from "./connector.ts";
import { recordMicros } from "./histogram.ts";
import {
  FANOUT_MATCHES_MAX,
  KEEPALIVE_CHECK_MS,
  PROGRESS_INTERVAL_MS,
  SUBACK_TIMEOUT_MS,
} from "./limits.ts";
import type { ClientRole } from "./option-specs.ts";
import { type BenchOptions, clientIdFor } from "./options.ts";
import { PublishScheduler } from "./publish-loop.ts";
import { Publisher } from "./publisher.ts";
import { sourceAddressAt } from "./source-ip.ts";
import type { CoordinatorMessage, WorkerMessage, WorkerPlan, WorkerResult } from "./stats.ts";
import { WorkerStats } from "./stats.ts";
import { Subscriber, SubscriptionState } from "./subscriber.ts";
import { expandTopic, fanoutCounts } from "./topic.ts";
import { connectPacket, nowMicros, publishTemplate } from "./wire.ts";

export class WorkerRun {
  private readonly plan: WorkerPlan;
  private readonly options: BenchOptions;
  private readonly post: (message: WorkerMessage) => void;
  private readonly stats = new WorkerStats();
  private readonly clients: Client[] = [];
  private readonly publishers: Publisher[] = [];
  private readonly subscribers: Subscriber[] = [];
  private readonly loop: PublishScheduler;
  private readonly connector: Connector;
  /** Subscribers fanout[i] receive each message of publishers[i]; null = unknown. */
  private readonly fanout: number[] | null;
  private subscribePending = 0;
  private subscribeTimer: NodeJS.Timeout | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(plan: WorkerPlan, post: (message: WorkerMessage) => void) {
    this.plan = plan;
    this.options = plan.options;
    this.post = post;
    this.loop = new PublishScheduler(this.options.ratePerSecond, () => this.send("published"));
    this.createClients();
    this.fanout = this.computeFanout();
    this.connector = new Connector(this.clients, plan.connRatePerSecond, {
      open: (client) => this.openClient(client),
      fail: (client, kind) => this.recordConnectFailure(client, kind),
      finished: () => this.send("connected"),
    });
  }

  start(): void {
    this.timers.push(setInterval(() => this.send("progress"), PROGRESS_INTERVAL_MS));
    this.timers.push(setInterval(() => this.ping(), KEEPALIVE_CHECK_MS));
    this.send("ready");
  }

  handle(message: CoordinatorMessage): void {
    if (this.closed) return;
    switch (message.type) {
      case "connect":
        this.connector.start(this.plan.connectPhaseMs);
        break;
      case "subscribe":
        this.subscribeAll();
        break;
      case "publish":
        this.loop.start();
        break;
      case "stop":
        this.loop.stop();
        break;
      case "poll":
        this.send("progress");
        break;
      case "close":
        this.close();
        break;
    }
  }

  private createClients(): void {
    const { options, plan } = this;
    const events = {
      connected: (client: Client, latencyMicros: number) => this.onConnected(client, latencyMicros),
      connectFailed: (client: Client, kind: string) => this.onConnectFailed(client, kind),
      lost: (client: Client, kind: string) => this.onLost(client, kind),
    };
    const make = (role: ClientRole, index: number): Client => {
      const client = new Client(
        index,
        role,
        clientIdFor(options, role, index),
        options.protocolVersion,
        events,
      );
      this.clients.push(client);
      return client;
    };
    for (let i = 0; i < plan.subscribers.count; i++) {
      const client = make("sub", plan.subscribers.first + i);
      const filter = expandTopic(options.subscribeTopicPattern, client.index, client.clientId);
      const subscriber = new Subscriber(client, filter, options.qos, this.stats, (s) =>
        this.onSubscribeSettled(s),
      );
      client.handler = subscriber;
      this.subscribers.push(subscriber);
    }
    for (let i = 0; i < plan.publishers.count; i++)
      this.createPublisher(make("pub", plan.publishers.first + i));
    for (let i = 0; i < plan.connections.count; i++) make("conn", plan.connections.first + i);
  }

  private createPublisher(client: Client): void {
    const options = this.options;
    const topic = expandTopic(options.topicPattern, client.index, client.clientId);
    const template = publishTemplate(
      topic,
      options.qos,
      options.payloadSizeBytes,
      options.protocolVersion,
    );
    const publisher = new Publisher(
      client,
      template,
      {
        qos: options.qos,
        inflightCountMax: options.inflightCountMax,
        messageCountMax: options.messageCountPerPublisher ?? Number.POSITIVE_INFINITY,
        ratePerSecond: options.ratePerSecond,
      },
      this.stats,
      this.loop,
    );
    client.handler = publisher;
    this.publishers.push(publisher);
    this.loop.add(publisher);
  }

  /** Only pubsub knows both sides; topics depend on client ids, so expand them all. */
  private computeFanout(): number[] | null {
    const options = this.options;
    if (options.command !== "pubsub") return null;
    const topics = this.publishers.map((p) =>
      expandTopic(options.topicPattern, p.client.index, p.client.clientId),
    );
    const filters: string[] = [];
    for (let i = 0; i < options.subscriberCount; i++) {
      filters.push(expandTopic(options.subscribeTopicPattern, i, clientIdFor(options, "sub", i)));
    }
    return fanoutCounts(topics, filters, FANOUT_MATCHES_MAX);
  }

  private target(client: Client): ConnectTarget {
    const options = this.options;
    const addresses = options.sourceAddresses;
    // Index over all roles, so publishers and subscribers spread over the addresses too.
    const order = client.role === "pub" ? options.subscriberCount + client.index : client.index;
    return {
      host: options.host,
      port: options.port,
      tls: options.tls,
      localAddress: addresses === null ? null : sourceAddressAt(addresses, order),
      timeoutMs: options.connectTimeoutMs,
      keepAliveSeconds: options.keepAliveSeconds,
    };
  }

  private openClient(client: Client): void {
    const options = this.options;
    const counters = this.stats.counters;
    counters.connectAttemptedCount++;
    if (counters.firstConnectMicros === 0) counters.firstConnectMicros = nowMicros();
    const bytes = connectPacket({
      clientId: client.clientId,
      protocolVersion: options.protocolVersion,
      cleanStart: options.cleanStart,
      keepAliveSeconds: options.keepAliveSeconds,
      sessionExpirySeconds: options.sessionExpirySeconds,
      username: options.username,
      password: options.password,
    });
    client.open(this.target(client), bytes);
  }

  private onConnected(client: Client, latencyMicros: number): void {
    const counters = this.stats.counters;
    counters.connectedCount++;
    counters.lastConnectMicros = client.chunkMicros;
    recordMicros(this.stats.connectLatency, latencyMicros);
    this.connector.settle();
  }

  private onConnectFailed(client: Client, kind: string): void {
    this.recordConnectFailure(client, kind);
    this.connector.settle();
  }

  /** A client that will never be connected: its publisher is done before it starts. */
  private recordConnectFailure(client: Client, kind: string): void {
    this.stats.counters.connectFailedCount++;
    this.stats.error(kind);
    if (client.handler instanceof Publisher) client.handler.abandon();
  }

  private onLost(client: Client, kind: string): void {
    if (this.closed) return;
    this.stats.counters.lostCount++;
    this.stats.error(kind);
    const handler = client.handler;
    if (handler instanceof Publisher) handler.abandon();
    else if (handler instanceof Subscriber && handler.state === SubscriptionState.WAITING) {
      handler.fail("subscribe:connection lost");
    }
  }

  /** Subscribes every connected subscriber; "subscribed" follows once all are settled. */
  private subscribeAll(): void {
    assert(this.subscribeTimer === null, "subscribe phase started twice");
    const ready = this.subscribers.filter(
      (s) => s.state === SubscriptionState.NONE && s.client.state === ClientState.CONNECTED,
    );
    this.subscribePending = ready.length;
    if (ready.length === 0) {
      this.send("subscribed");
      return;
    }
    this.subscribeTimer = setTimeout(() => this.expireSubscriptions(), SUBACK_TIMEOUT_MS);
    for (const subscriber of ready) subscriber.subscribe();
  }

  private expireSubscriptions(): void {
    this.subscribeTimer = null;
    for (const subscriber of this.subscribers) {
      if (subscriber.state === SubscriptionState.WAITING) subscriber.fail("subscribe:timeout");
    }
  }

  private onSubscribeSettled(_subscriber: Subscriber): void {
    if (this.subscribePending === 0) return;
    this.subscribePending--;
    if (this.subscribePending > 0) return;
    if (this.subscribeTimer !== null) clearTimeout(this.subscribeTimer);
    this.subscribeTimer = null;
    this.send("subscribed");
  }

  private ping(): void {
    const nowMs = performance.now();
    for (const client of this.clients) client.pingIfDue(nowMs);
  }

  private countersNow(): WorkerResult["counters"] {
    const counters = this.stats.counters;
    counters.publishersDoneCount = 0;
    let expected = this.fanout === null ? -1 : 0;
    for (let i = 0; i < this.publishers.length; i++) {
      const publisher = this.publishers[i];
      if (publisher.isDone) counters.publishersDoneCount++;
      if (this.fanout !== null) expected += publisher.sentCount * this.fanout[i];
    }
    counters.expectedReceivedCount = expected;
    return { ...counters };
  }

  private send(type: Exclude<WorkerMessage["type"], "final">): void {
    if (this.closed) return;
    this.post({ type, counters: this.countersNow() });
  }

  private close(): void {
    this.loop.stop();
    this.connector.stop();
    // Handshakes still pending when the run ends count as failed, like any other.
    for (const client of this.clients) {
      if (client.state === ClientState.CONNECTING) client.abortConnect("connect:run ended");
    }
    const counters = this.countersNow();
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    if (this.subscribeTimer !== null) clearTimeout(this.subscribeTimer);
    for (const client of this.clients) client.close();
    this.post({ type: "final", result: this.stats.result(counters) });
  }
}
