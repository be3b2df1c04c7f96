import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { readBootConfig } from './api.js';
import { ViewerRuntime } from './viewer/viewer-runtime.js';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('Cannot start Atrium: the page has no #root element');
createRoot(root).render(
  <StrictMode>
    <App config={readBootConfig(document)} runtime={new ViewerRuntime()} />
  </StrictMode>,
);
