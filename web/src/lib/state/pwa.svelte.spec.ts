import { describe, expect, it, vi } from 'vitest';
import { AppUpdates, type ServiceWorkerContainerLike } from './pwa.svelte';

class FakeWorker extends EventTarget {
  state = 'installing';
  messages: unknown[] = [];
  postMessage(message: unknown) {
    this.messages.push(message);
  }
  become(state: string) {
    this.state = state;
    this.dispatchEvent(new Event('statechange'));
  }
}

class FakeRegistration extends EventTarget {
  waiting: FakeWorker | null = null;
  installing: FakeWorker | null = null;
  update = vi.fn(async () => undefined);
}

class FakeContainer extends EventTarget implements ServiceWorkerContainerLike {
  controller: unknown = null;
  registration = new FakeRegistration();
  registered: string[] = [];
  async register(url: string) {
    this.registered.push(url);
    return this.registration;
  }
}

describe('AppUpdates', () => {
  it('the first install is no update', async () => {
    const container = new FakeContainer();
    const updates = new AppUpdates(container, vi.fn());
    await updates.register('/service-worker.js');
    expect(container.registered).toEqual(['/service-worker.js']);
    const worker = new FakeWorker();
    container.registration.installing = worker;
    container.registration.dispatchEvent(new Event('updatefound'));
    worker.become('installed');
    expect(updates.available).toBe(false);
  });

  it('a new version installed under a controlling one is offered', async () => {
    const container = new FakeContainer();
    container.controller = {};
    const updates = new AppUpdates(container, vi.fn());
    await updates.register('/service-worker.js');
    const worker = new FakeWorker();
    container.registration.installing = worker;
    container.registration.dispatchEvent(new Event('updatefound'));
    worker.become('installed');
    expect(updates.available).toBe(true);
  });

  it('a version already waiting from an earlier visit is offered at once', async () => {
    const container = new FakeContainer();
    container.controller = {};
    container.registration.waiting = new FakeWorker();
    const updates = new AppUpdates(container, vi.fn());
    await updates.register('/service-worker.js');
    expect(updates.available).toBe(true);
  });

  it('applying asks the waiting worker to take over, then reloads once it has', async () => {
    const container = new FakeContainer();
    container.controller = {};
    const waiting = new FakeWorker();
    container.registration.waiting = waiting;
    const reload = vi.fn();
    const updates = new AppUpdates(container, reload);
    await updates.register('/service-worker.js');
    // A controller change nobody asked for (another tab) does not reload this one.
    container.dispatchEvent(new Event('controllerchange'));
    expect(reload).not.toHaveBeenCalled();
    updates.apply();
    expect(waiting.messages).toEqual([{ type: 'SKIP_WAITING' }]);
    expect(reload).not.toHaveBeenCalled();
    container.dispatchEvent(new Event('controllerchange'));
    expect(reload).toHaveBeenCalledOnce();
  });

  it('checks for updates on request, and does nothing without service workers', async () => {
    const container = new FakeContainer();
    const updates = new AppUpdates(container, vi.fn());
    await updates.register('/service-worker.js');
    await updates.check();
    expect(container.registration.update).toHaveBeenCalledOnce();
    const none = new AppUpdates(null, vi.fn(), false);
    await none.register('/service-worker.js');
    await none.check();
    expect(none.online).toBe(false);
    expect(none.available).toBe(false);
  });
});
