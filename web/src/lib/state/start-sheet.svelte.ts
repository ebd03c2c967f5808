/**
 * The one "Start a space" sheet of the app (in the navigation): home's button, the rail's and
 * the bottom bar's all open it.
 */
class StartSheet {
  #open = $state(false);

  get open(): boolean {
    return this.#open;
  }
  set open(value: boolean) {
    this.#open = value;
  }

  show(): void {
    this.#open = true;
  }
  hide(): void {
    this.#open = false;
  }
}

export const startSheet = new StartSheet();
