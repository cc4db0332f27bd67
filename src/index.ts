import app from './app';

export { RateLimiter } from './limits/rate-limiter';
export { UserMeter } from './limits/user-meter';

export default app;
