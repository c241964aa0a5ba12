// A minimal Homebridge 1.x dynamic-platform plugin for tests/e2e/shutdown_test.sh.
//
// It does what many real plugins do: it registers one platform accessory and keeps its state in
// `accessory.context`, changing it in memory (every 200 ms here) and relying on Homebridge to save
// the accessory cache (`<storage>/accessories/cachedAccessories`) when it shuts down. Homebridge
// writes that file synchronously in its SIGTERM handler, then exits 5 s later. The test copies
// this file as `index.js` into a package named homebridge-cfgsync-probe and loads it with `-P`.
'use strict';

const PLUGIN = 'homebridge-cfgsync-probe';
const PLATFORM = 'CfgsyncShutdownProbe';

class ProbePlatform {
  constructor(log, config, api) {
    this.log = log;
    this.api = api;
    this.cached = [];
    this.timer = undefined;
    api.on('didFinishLaunching', () => this.launch());
    api.on('shutdown', () => {
      clearInterval(this.timer);
      this.log.info('probe: shutdown');
    });
  }

  // Called by Homebridge for each accessory found in the cache at start-up.
  configureAccessory(accessory) {
    this.cached.push(accessory);
  }

  launch() {
    const uuid = this.api.hap.uuid.generate('cfgsync-e2e-shutdown-probe');
    let accessory = this.cached.find((a) => a.UUID === uuid);
    if (!accessory) {
      accessory = new this.api.platformAccessory('Shutdown probe', uuid);
      accessory.context.starts = 0;
      this.api.registerPlatformAccessories(PLUGIN, PLATFORM, [accessory]);
    }
    accessory.context.starts += 1;
    accessory.context.ticks = 0;
    this.api.updatePlatformAccessories([accessory]); // written to the cache now
    this.timer = setInterval(() => {
      accessory.context.ticks += 1; // in memory only: saved by Homebridge at shutdown
      accessory.context.lastTick = new Date().toISOString();
    }, 200);
    this.log.info('probe: ready, start %d', accessory.context.starts);
  }
}

module.exports = (api) => {
  api.registerPlatform(PLATFORM, ProbePlatform);
};
