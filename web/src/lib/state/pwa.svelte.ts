/**
 * The installed app's life: registering the service worker, noticing that a new version is
 * waiting (and reloading into it when the person agrees), and whether we are online.
 */

interface WorkerLike extends EventTarget {
  state: string;
  postMessage(message: unknown): void;
}
interface RegistrationLike extends EventTarget {
  waiting: WorkerLike | null;
  installing: WorkerLike | null;
  update(): Promise<unknown>;
}
export interface ServiceWorkerContainerLike extends EventTarget {
  controller: unknown;
  register(url: string, options?: RegistrationOptions): Promise<RegistrationLike>;
}

export class AppUpdates {
  /** A new version is installed and waiting for this page to let it take over. */
  available = $state(false);
  online = $state(true);

  #container: ServiceWorkerContainerLike | null;
  #reload: () => void;
  #registration: RegistrationLike | null = null;
  #applying = false;

  constructor(container: ServiceWorkerContainerLike | null, reload: () => void, online = true) {
    this.#container = container;
    this.#reload = reload;
    this.online = online;
  }

  async register(url: string, options?: RegistrationOptions): Promise<void> {
    const container = this.#container;
    if (!container) return;
    const registration = await container.register(url, options);
    this.#registration = registration;
    // A version may already be waiting from an earlier visit.
    if (registration.waiting && container.controller) this.available = true;
    registration.addEventListener('updatefound', () => {
      const worker = registration.installing;
      worker?.addEventListener('statechange', () => {
        // "installed" with a controller in place: an update, not the first install.
        if (worker.state === 'installed' && container.controller) this.available = true;
      });
    });
    container.addEventListener('controllerchange', () => {
      if (this.#applying) this.#reload();
    });
  }

  /** Looks for a new version (on focus and now and then). */
  async check(): Promise<void> {
    await this.#registration?.update().catch(() => undefined);
  }

  /** Lets the waiting version take over; the page reloads when it has. */
  apply(): void {
    const waiting = this.#registration?.waiting;
    if (!waiting) {
      this.#reload();
      return;
    }
    this.#applying = true;
    waiting.postMessage({ type: 'SKIP_WAITING' });
  }

  dismiss(): void {
    this.available = false;
  }
}
