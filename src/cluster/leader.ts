// Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the
// holder renews `renewTime` every retry period; the others take the lease over when it has not changed for a
// whole lease duration, measured on their own clock from when they last saw it change (so clock skew between
// nodes does not matter). Every write carries the resourceVersion it read, so two candidates can never both
// win: the API answers 409 to the slower one. A leader that cannot renew within the renew deadline steps
// down before its lease can expire, and a leader that stops releases the lease so that another takes over
// at once. Singleton duties (creating shared resources) run on the leader only.
import type { V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { type KubeClient, kubeError } from "../clients/kubernetes/calls.ts";
import { errorFields, errorMessage } from "../errors.ts";

export interface LeaderElectionSettings {
  readonly namespace: string;
  readonly name: string;
  /** This replica's name in the lease (the pod name). */
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export interface LeaderCallbacks {
  onStartedLeading?(): void;
  onStoppedLeading?(): void;
  /** Another replica (or this one) holds the lease now. */
  onNewLeader?(identity: string): void;
}

export class LeaderElector {
  readonly #kube: KubeClient;
  readonly #s: LeaderElectionSettings;
  readonly #log: Logger;
  readonly #callbacks: LeaderCallbacks;
  #leader = false;
  #observedHolder = "";
  /** The lease as last read, and when (on this clock) its renewTime or holder last changed. */
  #observed: V1Lease | undefined;
  #observedChangedAt = 0;
  #lastRenewal = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #round: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();

  constructor(kube: KubeClient, settings: LeaderElectionSettings, log: Logger, callbacks: LeaderCallbacks = {}) {
    if (settings.renewDeadlineMs >= settings.leaseDurationMs) throw new Error("the renew deadline must be shorter than the lease duration");
    if (settings.retryPeriodMs >= settings.renewDeadlineMs) throw new Error("the retry period must be shorter than the renew deadline");
    this.#kube = kube;
    this.#s = settings;
    this.#log = log;
    this.#callbacks = callbacks;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** The identity holding the lease, as last seen ("" when unknown or free). */
  get leader(): string {
    return this.#observedHolder;
  }

  start(): void {
    const tick = (): void => {
      this.#round = this.#tryAcquireOrRenew().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#s.retryPeriodMs).unref(); // never what keeps the process up
      });
    };
    tick();
  }

  /** Stops campaigning; a leader releases the lease so another replica takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#round;
    if (this.#leader) {
      await this.#release();
      this.#setLeader(false);
    }
    this.#abort.abort();
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    const { namespace, name } = this.#s;
    const options = this.#kube.requestOptions(AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#s.retryPeriodMs * 2)]));
    try {
      let lease: V1Lease;
      try {
        lease = await this.#kube.coordination.readNamespacedLease({ name, namespace }, options);
      } catch (err) {
        if (kubeError(err, "read").code !== "ERR_TARGET_GONE") throw err;
        const created = await this.#kube.coordination.createNamespacedLease({ namespace, body: this.#record(undefined, now) }, options);
        this.#see(created, now);
        this.#renewed(now);
        return;
      }
      this.#see(lease, now);
      const holder = lease.spec?.holderIdentity ?? "";
      const duration = (lease.spec?.leaseDurationSeconds ?? this.#s.leaseDurationMs / 1000) * 1000;
      const expired = holder === "" || this.#observedChangedAt + duration <= now;
      if (holder !== this.#s.identity && !expired) {
        this.#checkDeadline(now);
        return;
      }
      const updated = await this.#kube.coordination.replaceNamespacedLease({ name, namespace, body: this.#record(lease, now) }, options);
      this.#see(updated, now);
      this.#renewed(now);
    } catch (err) {
      // 409: another candidate wrote first (it renewed or took over); anything else: the API is unreachable.
      const e = kubeError(err, `acquire or renew the lease ${namespace}/${name}`);
      if (!/409|conflict/i.test(errorMessage(err)))
        this.#log.warn(errorFields(e, "ERR_KUBERNETES"), "leader election: the lease could not be renewed");
      this.#checkDeadline(now);
    }
  }

  /** The lease written by this replica: renewed, or taken over (new acquireTime, one more transition). */
  #record(current: V1Lease | undefined, now: number): V1Lease {
    const mine = current?.spec?.holderIdentity === this.#s.identity;
    const time = this.#kube.microTime(now);
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.#s.name,
        namespace: this.#s.namespace,
        ...(current?.metadata?.resourceVersion === undefined ? {} : { resourceVersion: current.metadata.resourceVersion }),
        labels: { ...current?.metadata?.labels, "app.kubernetes.io/name": "kestrel", "app.kubernetes.io/part-of": "kestrel" },
      },
      spec: {
        holderIdentity: this.#s.identity,
        leaseDurationSeconds: Math.ceil(this.#s.leaseDurationMs / 1000),
        acquireTime: mine && current?.spec?.acquireTime !== undefined ? current.spec.acquireTime : time,
        renewTime: time,
        leaseTransitions: (current?.spec?.leaseTransitions ?? 0) + (mine || current === undefined ? 0 : 1),
      },
    };
  }

  #see(lease: V1Lease, now: number): void {
    const holder = lease.spec?.holderIdentity ?? "";
    const before = this.#observed?.spec;
    const changed = before === undefined || before.holderIdentity !== holder || String(before.renewTime) !== String(lease.spec?.renewTime);
    if (changed) this.#observedChangedAt = now;
    this.#observed = lease;
    if (holder !== this.#observedHolder) {
      this.#observedHolder = holder;
      if (holder !== "") {
        this.#log.info({ leader: holder, me: this.#s.identity }, "leader election: new leader");
        this.#callbacks.onNewLeader?.(holder);
      }
    }
  }

  #renewed(now: number): void {
    this.#lastRenewal = now;
    this.#setLeader(true);
  }

  /** A leader that has not renewed within the renew deadline steps down before its lease can run out. */
  #checkDeadline(now: number): void {
    if (this.#leader && now - this.#lastRenewal >= this.#s.renewDeadlineMs) this.#setLeader(false);
    else if (this.#leader && this.#observedHolder !== this.#s.identity) this.#setLeader(false);
  }

  #setLeader(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (leader) {
      this.#log.info({ lease: `${this.#s.namespace}/${this.#s.name}`, me: this.#s.identity }, "leader election: this replica leads");
      this.#callbacks.onStartedLeading?.();
    } else {
      this.#log.warn(
        { lease: `${this.#s.namespace}/${this.#s.name}`, me: this.#s.identity },
        "leader election: this replica no longer leads",
      );
      this.#callbacks.onStoppedLeading?.();
    }
  }

  async #release(): Promise<void> {
    const lease = this.#observed;
    if (lease?.spec?.holderIdentity !== this.#s.identity) return;
    try {
      await this.#kube.coordination.replaceNamespacedLease(
        {
          name: this.#s.name,
          namespace: this.#s.namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: this.#kube.microTime() } },
        },
        this.#kube.requestOptions(AbortSignal.timeout(this.#s.retryPeriodMs * 2)),
      );
      this.#log.info({ lease: `${this.#s.namespace}/${this.#s.name}` }, "leader election: lease released");
    } catch (err) {
      this.#log.warn(errorFields(err, "ERR_KUBERNETES"), "leader election: the lease could not be released; it expires by itself");
    }
  }
}
