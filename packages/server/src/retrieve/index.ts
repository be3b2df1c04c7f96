export * from './retrieve-service.js';
