export * from './fixtures';
export * from './mocks';
