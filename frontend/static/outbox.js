// Outboxes kept in IndexedDB on the phone until the server has stored what they hold: the report form's reports
// (with their photos as Blobs) and the workbench's patrols (positions). Each item carries its key (the report's
// Idempotency-Key, the patrol's key) from the moment it is made, so any number of retries stores it once.
function gridmapMakeOutbox(DB, STORE) {
  const VERSION = 1;
  let opened = null;

  function open() {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB, VERSION);
        req.onupgradeneeded = () => req.result.createObjectStore(STORE, {keyPath: "key"});
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return opened;
  }

  async function run(mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const out = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(out && "result" in out ? out.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
  }

  return {
    newKey,
    put: item => run("readwrite", s => s.put(item)),
    get: key => run("readonly", s => s.get(key)),
    remove: key => run("readwrite", s => s.delete(key)),
    all: async () => ((await run("readonly", s => s.getAll())) || []).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
  };
}
const gridmapOutbox = gridmapMakeOutbox("gridmap-report", "outbox");
