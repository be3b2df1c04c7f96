export { registerChangeEvents, type ChangeEventsOptions, type StudyChangeEvent } from './change-events.js';
