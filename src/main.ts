/**
 * Entry point: mount the shell at once (it must be interactive in about a
 * second), then start the app's services behind it.
 */
import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { AppState } from './state/app.svelte';
import { registerServiceWorker } from './services/pwa';

const app = new AppState();
mount(App, { target: document.getElementById('app')!, props: { app } });
performance.mark('h3lix:shell-mounted');

registerServiceWorker((update) => {
  app.update = update;
});

void app.start();
